package record

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// FuzzBatch feeds arbitrary bytes to the batch splitter, the decompressors
// and the record iterator: errors are fine, panics are not.
func FuzzBatch(f *testing.F) {
	for _, c := range codecs {
		f.Add(testBatchBytes(f, c.c))
	}
	f.Add([]byte{})
	d := Decompressor{MaxBytes: 1 << 20}
	var buf, fixed []byte
	walk := func(in []byte) {
		for len(in) > 0 {
			b, rest, err := Next(in)
			if err != nil {
				return
			}
			in = rest
			data, err := d.Records(&b, buf[:0])
			if err != nil {
				continue
			}
			if b.Compression() != None {
				buf = data[:0]
			}
			it := NewIter(data, b.NumRecords)
			var r Record
			for it.Next(&r) {
				h := r.HeaderIter()
				for h.Next() {
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		walk(in)
		// Most mutations break the length or the CRC; fix both up in a copy
		// so the decompressors and the record iterator see arbitrary bytes.
		if len(in) < HeaderSize {
			return
		}
		fixed = append(fixed[:0], in...)
		fixed[offMagic] = 2
		binary.BigEndian.PutUint32(fixed[offLength:], uint32(len(fixed)-lengthOverhead))
		binary.BigEndian.PutUint32(fixed[offCRC:], crc32.Checksum(fixed[offAttributes:], castagnoli))
		if _, _, err := Next(fixed); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrCompression) {
			t.Fatalf("fixed-up batch: %v", err)
		}
		walk(fixed)
	})
}

func testBatchBytes(tb testing.TB, c Compression) []byte {
	raw := AppendRecord(nil, &Record{Key: []byte("k"), Value: []byte("value"), NumHeaders: 1,
		Headers: AppendHeader(nil, []byte("h"), nil)})
	var z Compressor
	enc, err := AppendBatch(nil, Header{Attributes: int16(c)}, raw, 1, &z)
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}
