package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"robustmq/shard"
)

func frameRecords() []shard.Record {
	return []shard.Record{
		{Timestamp: 100, Key: []byte("k"), Value: []byte("v")},
		{Timestamp: 90, Key: nil, Value: nil},
		{Timestamp: 110, Key: []byte{}, Value: []byte{}, Tags: [][]byte{[]byte("t1"), {}}},
		{Timestamp: 0, Headers: []shard.Header{{Name: []byte("n"), Value: nil}, {Name: []byte{}, Value: []byte{}}}, Value: bytes.Repeat([]byte{7}, 300)},
	}
}

// decodeAll decodes every record of the single batch b.
func decodeAll(b []byte) ([]shard.Record, BatchHeader, error) {
	h, err := CheckBatch(b)
	if err != nil {
		return nil, h, err
	}
	it := Iter(b, h)
	var out []shard.Record
	var hdrs []shard.Header
	var tags [][]byte
	for {
		var r shard.Record
		var ok bool
		if ok, hdrs, tags = it.Next(&r, hdrs, tags); !ok {
			return out, h, it.Err()
		}
		out = append(out, r)
	}
}

func TestBatchRoundTrip(t *testing.T) {
	recs := frameRecords()
	b, h := AppendBatch([]byte("prefix"), recs, BatchMeta{BaseOffset: 42, Term: 7, Now: 555})
	b = b[len("prefix"):]
	if got := BatchSize(recs, 555); got != len(b) || int(h.Len) != len(b) {
		t.Fatalf("BatchSize %d, header len %d; want encoded length %d", got, h.Len, len(b))
	}
	got, gh, err := decodeAll(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if gh.BaseOffset != 42 || gh.Term != 7 || gh.Count != 4 || gh.LastDelta != 3 || gh.FirstTS != 100 || gh.MaxTS != 555 || gh.NextOffset() != 46 {
		t.Fatalf("header %+v; want base 42 term 7 count 4 lastDelta 3 firstTS 100 maxTS 555", gh)
	}
	for i := range recs {
		want := recs[i]
		want.Offset = 42 + int64(i)
		if want.Timestamp == 0 {
			want.Timestamp = 555
		}
		if d := recordDiff(&got[i], &want); d != "" {
			t.Errorf("record %d: %s", i, d)
		}
	}
}

func recordDiff(got, want *shard.Record) string {
	eq := func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
	switch {
	case got.Offset != want.Offset || got.Timestamp != want.Timestamp:
		return "offset/timestamp differ"
	case !eq(got.Key, want.Key):
		return "key differs"
	case !eq(got.Value, want.Value):
		return "value differs"
	case len(got.Headers) != len(want.Headers) || len(got.Tags) != len(want.Tags):
		return "header or tag count differs"
	}
	for i := range got.Headers {
		if !bytes.Equal(got.Headers[i].Name, want.Headers[i].Name) || !eq(got.Headers[i].Value, want.Headers[i].Value) {
			return "header differs"
		}
	}
	for i := range got.Tags {
		if !bytes.Equal(got.Tags[i], want.Tags[i]) {
			return "tag differs"
		}
	}
	return ""
}

// Every single-byte change of a batch is detected: by the batch CRC, or,
// for the length field, as a torn or invalid batch.
func TestBatchDetectsEveryFlip(t *testing.T) {
	b, _ := AppendBatch(nil, frameRecords(), BatchMeta{BaseOffset: 1, Now: 1})
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x20
		if _, _, err := decodeAll(c); err == nil {
			t.Fatalf("flip at byte %d of %d not detected", i, len(b))
		} else if !errors.Is(err, shard.ErrCorrupt) {
			t.Fatalf("flip at byte %d: error %v does not wrap shard.ErrCorrupt", i, err)
		}
	}
	for n := range len(b) {
		if _, err := CheckBatch(b[:n]); !errors.Is(err, errTorn) && !errors.Is(err, errBadBatch) {
			t.Fatalf("batch cut to %d bytes: %v; want a torn or invalid batch", n, err)
		}
	}
}

// The record decoder checks each record's own CRC, so a batch with a good
// batch CRC but a damaged record (as a bug or a Kafka-style rewrite could
// produce) is still refused.
func TestRecordCRC(t *testing.T) {
	b, h := AppendBatch(nil, frameRecords()[:1], BatchMeta{Now: 1})
	b[len(b)-1] ^= 1 // last value byte
	putHeader(b, &h) // re-seal the batch CRC over the damaged record
	if _, _, err := decodeAll(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged record under a valid batch CRC: err %v; want ErrCorrupt", err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	b, _ := AppendBatch(nil, frameRecords(), BatchMeta{BaseOffset: 9, Now: 1})
	f.Add(b)
	one, _ := AppendBatch(nil, frameRecords()[:1], BatchMeta{})
	f.Add(one)
	f.Add(b[:BatchHeaderSize])
	op, _ := AppendOpaque(nil, &shard.Batch{Format: shard.BatchKafkaV2, Count: 3, Bytes: make([]byte, 40)}, BatchMeta{BaseOffset: 5, Term: 2})
	f.Add(op)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzBatch(t, b)
		// Fed in halves, as a scan that reaches the end of the data would:
		// the first half must be torn or a whole batch, never a crash.
		fuzzBatch(t, b[:len(b)/2])
	})
}

func fuzzBatch(t *testing.T, b []byte) {
	h, err := DecodeHeader(b)
	if err != nil {
		return
	}
	if h.Len < BatchHeaderSize {
		t.Fatalf("DecodeHeader accepted length %d", h.Len)
	}
	if h.Format() != FormatNative {
		// An opaque batch: dense offsets and room for its base offset; a
		// valid one re-encodes to itself.
		if h.Format() != FormatKafkaV2 || h.LastDelta != h.Count-1 || h.Len < BatchHeaderSize+shard.BatchBaseBytes {
			t.Fatalf("DecodeHeader accepted opaque batch %+v", h)
		}
		if _, err := CheckBatch(b); err == nil && binary.BigEndian.Uint64(b[BatchHeaderSize:]) == uint64(h.BaseOffset) &&
			h.FirstTS == h.MaxTS && h.ProducerID == -1 && h.ProducerEpoch == -1 && h.Sequence == -1 &&
			binary.LittleEndian.Uint16(b[hdrReserved1:]) == 0 && binary.LittleEndian.Uint32(b[hdrReserved2:]) == 0 {
			bt := shard.Batch{Format: h.Format(), Count: int(h.Count), MaxTimestamp: h.MaxTS, Bytes: b[BatchHeaderSize:h.Len]}
			if out, _ := AppendOpaque(nil, &bt, BatchMeta{BaseOffset: h.BaseOffset, Term: h.Term, Now: h.MaxTS}); !bytes.Equal(out, b[:h.Len]) {
				t.Fatalf("opaque batch re-encodes to %x; want %x", out, b[:h.Len])
			}
		}
		return
	}
	recs, h, err := decodeAll(b)
	if err != nil {
		return
	}
	if len(recs) != int(h.Count) {
		t.Fatalf("decoded %d records of %d without error", len(recs), h.Count)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Offset <= recs[i-1].Offset || recs[i].Offset > h.LastOffset() {
			t.Fatalf("record offsets not increasing within [base, last]: %d then %d", recs[i-1].Offset, recs[i].Offset)
		}
	}
	// Views stay inside the batch: their bytes add up to less than it.
	n := 0
	for i := range recs {
		n += recs[i].Size()
	}
	if n > int(h.Len) {
		t.Fatalf("records hold %d bytes in a %d-byte batch", n, h.Len)
	}
}
