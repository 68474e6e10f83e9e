// Package offsetstore is the pebble-backed local shard.OffsetStore: consumer
// group offsets in their own pebble DB, until the Meta Service's "offset"
// raft group serves them. Both pass shardtest.RunOffsetStore.
//
// Key layout (frozen; lengths are uvarints so no group or topic can prefix
// another's keys):
//
//	'g' len(group) group len(topic) topic partition(4 B BE) -> 0x01 offset(8 B LE) metadata
//
// Every Commit is one pebble batch applied with Sync: a commit is durable
// when it returns, and all offsets of a commit land together.
package offsetstore
