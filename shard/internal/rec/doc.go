// Package rec is the binary record encoding shared by the memory and pebble
// engines (segments have their own frame in segment/). The pebble engine
// stores it on disk, so the layout is frozen; a new layout takes a new
// version byte.
//
// One record (offset is implied by where it is stored):
//
//	+------+------------+---------------+-----+---------+---------------------------+
//	| 0x01 | ts int64   | keyLen+1      | key | nTags   | nTags x (len, tag)        |
//	| 1 B  | 8 B LE     | uvarint       |     | uvarint | uvarint, bytes            |
//	+------+------------+---------------+-----+---------+---------------------------+
//	| nHdr    | nHdr x (nameLen, name, valueLen+1, value) | valueLen+1 | value      |
//	| uvarint | uvarint, bytes, uvarint, bytes            | uvarint    |            |
//	+---------+-------------------------------------------+------------+------------+
//
// Nullable fields (key, header value, value) store length+1 with 0 meaning
// nil, so nil and empty survive a round trip (Kafka null key, tombstone,
// null header value). Tags and header names are never nil.
//
// Opaque batches (shard.Adapter AppendBatch; pebble only, as the memory
// engine keeps them raw): a batch of n records at offsets b..b+n-1 is
// stored as one head at its last offset and n-1 references before it, so
// the head outlives any front deletion that leaves one of its records:
//
//	offset b+n-1   | 0x02 | ts int64 LE | format 1 B | n uvarint | batch bytes |
//	offsets b+i    | 0x03 | ts int64 LE | dist uvarint (b+n-1 - (b+i), > 0) |
//
// ts is the batch's MaxTimestamp in both. Timestamp reads all three kinds;
// KeyTags finds nothing in the two batch kinds.
//
// Decode returns views into its input and never panics on bad input: a
// truncated or inconsistent buffer, or a uvarint in more bytes than needed,
// gives ErrCorrupt. So every valid encoding re-encodes to itself.
package rec
