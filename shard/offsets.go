package shard

import "context"

// GroupOffset is one committed consumer position.
type GroupOffset struct {
	Topic     string
	Partition int32
	Offset    int64  // next offset the group will consume
	Metadata  string // opaque client metadata (Kafka OffsetCommit metadata)
}

// OffsetStore keeps consumer-group offsets. They live apart from message data
// (in the Meta Service's "offset" raft group); shard/offsetstore is the
// pebble-backed local implementation. Implementations are safe for
// concurrent use and pass shardtest.RunOffsetStore.
type OffsetStore interface {
	// Commit stores offsets for group atomically: all or none. A later
	// commit for the same (topic, partition) replaces the earlier one.
	Commit(ctx context.Context, group string, offsets []GroupOffset) error
	// Fetch returns group's offsets for topic, or for all topics when topic
	// is "", sorted by topic then partition. An unknown group or topic
	// yields an empty result, not an error.
	Fetch(ctx context.Context, group, topic string) ([]GroupOffset, error)
	// DeleteGroup removes every offset of group; unknown groups are a no-op.
	DeleteGroup(ctx context.Context, group string) error
	// DeleteTopic removes group's offsets for topic (Kafka OffsetDelete).
	DeleteTopic(ctx context.Context, group, topic string) error
	// ListGroups returns the groups holding at least one offset, sorted.
	ListGroups(ctx context.Context) ([]string, error)
	// Close releases the store; later calls return ErrClosed.
	Close() error
}
