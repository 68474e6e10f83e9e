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
// Decode returns views into its input and never panics on bad input: a
// truncated or inconsistent buffer, or a uvarint in more bytes than needed,
// gives ErrCorrupt. So every valid encoding re-encodes to itself.
package rec
