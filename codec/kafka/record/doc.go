// Package record reads and writes Kafka record batches (magic 2), the unit
// this broker stores: a Produce request's batch is validated, given its base
// offset by rewriting 8 bytes in place, and stored as it arrived, so Fetch
// serves the stored bytes without re-encoding.
//
// # Batch layout (frozen, big-endian; the Kafka record batch v2 format)
//
//	offset  size  field
//	     0     8  base offset            rewritten by the broker (SetBaseOffset)
//	     8     4  batch length           bytes after this field (total - 12)
//	    12     4  partition leader epoch rewritten by the broker
//	    16     1  magic                  2 (0 and 1: message sets, refused)
//	    17     4  crc                    CRC32C (Castagnoli) of bytes 21..end
//	    21     2  attributes             bits 0-2 compression (0 none, 1 gzip,
//	                                     2 snappy, 3 lz4, 4 zstd), 3 timestamp
//	                                     type (1 LogAppendTime), 4 transactional,
//	                                     5 control, 6 delete horizon set
//	    23     4  last offset delta
//	    27     8  first timestamp
//	    35     8  max timestamp
//	    43     8  producer id
//	    51     2  producer epoch
//	    53     4  base sequence
//	    57     4  record count
//	    61     …  records, compressed as a whole when attributes say so
//
// The CRC starts at the attributes, so the base offset, length, leader epoch
// and magic are outside it: rewriting the base offset and the leader epoch
// leaves the batch valid. Magic sits at byte 16 in every format (message
// sets v0/v1 too), which is how Next tells them apart.
//
// Each record (signed varints are zigzag, as in protobuf):
//
//	length            varint   bytes after this field
//	attributes        int8     unused, 0
//	timestamp delta   varlong  from first timestamp
//	offset delta      varint   from base offset
//	key length        varint   -1: null key
//	key               bytes
//	value length      varint   -1: null value
//	value             bytes
//	header count      varint
//	headers           count × (key length varint, key, value length varint
//	                  (-1 null), value)
//
// # Compression
//
// gzip (klauspost/compress/gzip), snappy (klauspost/compress/s2, which
// decodes snappy blocks; both a raw block, written by franz-go and
// librdkafka, and the xerial framing written by the Java client are read,
// and xerial is written), lz4 (pierrec/lz4/v4, the LZ4 frame format) and
// zstd (klauspost/compress/zstd). Decompressed size is bounded per batch
// (Decompressor.MaxBytes) against zip bombs.
//
// # Buffers and goroutines
//
// Next, Iter and Headers return views into their input and copy nothing.
// Decompressor and Compressor keep reusable codec state: one per goroutine
// (an event loop owns one), never shared.
//
// # Errors
//
// Every error wraps one sentinel: ErrTruncated (input ends inside a batch:
// normal for the last batch of a Fetch response, an error in a Produce),
// ErrCorrupt (impossible lengths or counts, a stream that does not
// decompress), ErrCRC, ErrLegacyFormat (magic 0/1), ErrCompression (codec
// 5-7) and ErrTooLarge (decompressed size over the limit). ErrorCode maps
// them to the code a Produce partition is answered with: CORRUPT_MESSAGE,
// UNSUPPORTED_COMPRESSION_TYPE or MESSAGE_TOO_LARGE. Message sets v0/v1
// are refused, not converted: the broker does not advertise Produce v0-v2
// (the versions that carry them), and one inside a newer Produce is
// CORRUPT_MESSAGE, as in Kafka 4.
package record
