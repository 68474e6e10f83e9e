package record

import (
	"bytes"
	"strconv"
	"testing"
)

// batchOf returns an uncompressed batch of n-byte values filling about size
// bytes.
func batchOf(b *testing.B, size, valueBytes int, c Compression) []byte {
	var raw []byte
	value := bytes.Repeat([]byte("v"), valueBytes)
	count := int32(0)
	for len(raw) < size-HeaderSize-valueBytes-16 {
		raw = AppendRecord(raw, &Record{OffsetDelta: count, TimestampDelta: int64(count), Value: value})
		count++
	}
	var z Compressor
	enc, err := AppendBatch(nil, Header{Attributes: int16(c), LastOffsetDelta: count - 1}, raw, count, &z)
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

// BenchmarkBatch: Next (header + CRC32C) and Next + iterating every record of
// a 16 KiB batch, against a baseline copy of the same bytes.
func BenchmarkBatch(b *testing.B) {
	for _, vb := range []int{100, 1000} {
		enc := batchOf(b, 16<<10, vb, None)
		name := "value=" + strconv.Itoa(vb)
		b.Run(name+"/baseline-copy", func(b *testing.B) {
			dst := make([]byte, len(enc))
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, enc)
			}
		})
		b.Run(name+"/next", func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Next(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/next+iterate", func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			var d Decompressor
			var r Record
			for b.Loop() {
				bt, _, err := Next(enc)
				if err != nil {
					b.Fatal(err)
				}
				data, _ := d.Records(&bt, nil)
				it := NewIter(data, bt.NumRecords)
				for it.Next(&r) {
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
			}
		})
	}
}

// BenchmarkDecompress: each codec on a 16 KiB batch of 100-byte values,
// into a reused buffer.
func BenchmarkDecompress(b *testing.B) {
	for _, c := range []Compression{Gzip, Snappy, LZ4, Zstd} {
		enc := batchOf(b, 16<<10, 100, c)
		bt, _, err := Next(enc)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.String(), func(b *testing.B) {
			var d Decompressor
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				out, err := d.Records(&bt, buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				buf = out
				b.SetBytes(int64(len(out)))
			}
		})
	}
}
