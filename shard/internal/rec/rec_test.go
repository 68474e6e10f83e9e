package rec

import (
	"bytes"
	"errors"
	"testing"

	"robustmq/shard"
)

func roundTrip(t *testing.T, r shard.Record, ts int64) {
	t.Helper()
	b := Append([]byte("prefix"), &r, ts)[6:]
	if len(b) != Len(&r) {
		t.Fatalf("%+v: encoded %d bytes; Len says %d", r, len(b), Len(&r))
	}
	var got shard.Record
	if _, _, err := Decode(b, &got, nil, nil); err != nil {
		t.Fatalf("%+v: Decode: %v", r, err)
	}
	r.Timestamp = ts
	if d := diff(&got, &r); d != "" {
		t.Fatalf("%+v: round trip: %s", r, d)
	}
	if gts, err := Timestamp(b); err != nil || gts != ts {
		t.Fatalf("Timestamp = %d, %v; want %d", gts, err, ts)
	}
	var keys, tags [][]byte
	if err := KeyTags(b, func(k []byte) { keys = append(keys, k) }, func(tg []byte) { tags = append(tags, tg) }); err != nil {
		t.Fatal(err)
	}
	if (r.Key != nil) != (len(keys) == 1) || len(tags) != len(r.Tags) {
		t.Fatalf("KeyTags: keys %q tags %q; want key %q tags %q", keys, tags, r.Key, r.Tags)
	}
}

func nilEq(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func diff(got, want *shard.Record) string {
	if got.Timestamp != want.Timestamp || !nilEq(got.Key, want.Key) || !nilEq(got.Value, want.Value) ||
		len(got.Tags) != len(want.Tags) || len(got.Headers) != len(want.Headers) {
		return "fields differ"
	}
	for i := range want.Tags {
		if !bytes.Equal(got.Tags[i], want.Tags[i]) {
			return "tag differs"
		}
	}
	for i := range want.Headers {
		if !bytes.Equal(got.Headers[i].Name, want.Headers[i].Name) || !nilEq(got.Headers[i].Value, want.Headers[i].Value) {
			return "header differs"
		}
	}
	return ""
}

func TestRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte{7}, 300) // two-byte uvarint lengths
	roundTrip(t, shard.Record{}, 0)
	roundTrip(t, shard.Record{Key: []byte{}, Value: []byte{}}, -1)
	roundTrip(t, shard.Record{Key: long, Value: long}, 1<<62)
	roundTrip(t, shard.Record{Tags: [][]byte{{}, long, []byte("t")}}, 5)
	roundTrip(t, shard.Record{Headers: []shard.Header{{Name: []byte{}, Value: nil}, {Name: long, Value: []byte{}}, {Name: []byte("n"), Value: long}}}, 6)
}

// TestDecodeReusesScratch decodes several records into shared tag and header
// scratch slices: earlier records keep their own tags.
func TestDecodeReusesScratch(t *testing.T) {
	var tags [][]byte
	var hdrs []shard.Header
	recs := make([]shard.Record, 3)
	for i := range recs {
		src := shard.Record{Tags: [][]byte{{byte(i)}, {byte(i), 1}}, Headers: []shard.Header{{Name: []byte{byte(i)}}}}
		var err error
		tags, hdrs, err = Decode(Append(nil, &src, 0), &recs[i], tags, hdrs)
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range recs {
		if len(recs[i].Tags) != 2 || recs[i].Tags[0][0] != byte(i) || recs[i].Headers[0].Name[0] != byte(i) {
			t.Fatalf("record %d: tags %v headers %v", i, recs[i].Tags, recs[i].Headers)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := Append(nil, &shard.Record{Key: []byte("k"), Tags: [][]byte{[]byte("t")}, Headers: []shard.Header{{Name: []byte("h"), Value: []byte("v")}}, Value: []byte("value")}, 9)
	f := func(what string, b []byte) {
		t.Helper()
		var r shard.Record
		if _, _, err := Decode(b, &r, nil, nil); !errors.Is(err, shard.ErrCorrupt) {
			t.Fatalf("%s (%x): err %v; want ErrCorrupt", what, b, err)
		}
	}
	f("empty", nil)
	f("bad version", append([]byte{2}, good[1:]...))
	for n := 1; n < len(good); n++ {
		f("truncated", good[:n])
	}
	f("trailing byte", append(append([]byte{}, good...), 0))
	f("huge tag count", append(append([]byte{}, good[:11]...), 0xff, 0xff, 0xff, 0xff, 0x0f))
}

func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, &shard.Record{Key: []byte("k"), Tags: [][]byte{[]byte("t")}, Headers: []shard.Header{{Name: []byte("h"), Value: []byte("v")}}, Value: []byte("value")}, 9))
	f.Add(Append(nil, &shard.Record{}, 0))
	f.Add(AppendBatchHead(nil, 7, shard.BatchKafkaV2, 3, make([]byte, 12)))
	f.Add(AppendBatchRef(nil, 7, 2))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Whole and in halves: neither may panic, and what decodes must
		// re-encode to the same bytes.
		for _, in := range [][]byte{b, b[:len(b)/2], b[len(b)/2:]} {
			var r shard.Record
			_, _, err := Decode(in, &r, nil, nil)
			_, _ = Timestamp(in)
			_ = KeyTags(in, func([]byte) {}, func([]byte) {})
			checkBatchEntry(t, in)
			if err != nil {
				continue
			}
			if out := Append(nil, &r, r.Timestamp); !bytes.Equal(out, in) {
				t.Fatalf("decode+encode changed %x into %x", in, out)
			}
		}
	})
}

func BenchmarkEncodeDecode(b *testing.B) {
	for _, size := range []int{128, 1024, 16384} {
		r := shard.Record{Timestamp: 1, Key: []byte("key-0001"), Headers: []shard.Header{{Name: []byte("h"), Value: []byte("v")}}, Value: make([]byte, size)}
		buf := make([]byte, 0, size+64)
		b.Run("baseline=copy/size="+itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				buf = append(buf[:0], r.Value...)
			}
		})
		b.Run("encode/size="+itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				buf = Append(buf[:0], &r, 1)
			}
		})
		enc := Append(nil, &r, 1)
		var tags [][]byte
		var hdrs []shard.Header
		b.Run("decode/size="+itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var out shard.Record
			for b.Loop() {
				var err error
				if tags, hdrs, err = Decode(enc, &out, tags[:0], hdrs[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	return string(bytes.TrimLeft([]byte{byte('0' + n/10000%10), byte('0' + n/1000%10), byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)}, "0"))
}

func TestNonMinimalVarint(t *testing.T) {
	b := Append(nil, &shard.Record{}, 0)
	// The key length 0 (nil) as a two-byte uvarint.
	bad := append(append(append([]byte{}, b[:9]...), 0x80, 0x00), b[10:]...)
	var r shard.Record
	if _, _, err := Decode(bad, &r, nil, nil); !errors.Is(err, shard.ErrCorrupt) {
		t.Fatalf("non-minimal uvarint: err %v; want ErrCorrupt", err)
	}
}

// checkBatchEntry decodes in as both opaque-batch entry kinds: what decodes
// must re-encode to the same bytes.
func checkBatchEntry(t *testing.T, in []byte) {
	t.Helper()
	ts, _ := Timestamp(in)
	if format, count, batch, err := DecodeBatchHead(in); err == nil {
		if out := AppendBatchHead(nil, ts, format, count, batch); !bytes.Equal(out, in) {
			t.Fatalf("batch head decode+encode changed %x into %x", in, out)
		}
	}
	if dist, err := DecodeBatchRef(in); err == nil {
		if out := AppendBatchRef(nil, ts, dist); !bytes.Equal(out, in) {
			t.Fatalf("batch ref decode+encode changed %x into %x", in, out)
		}
	}
}

func TestBatchEntries(t *testing.T) {
	batch := []byte("0123456789abcdef")
	head := AppendBatchHead(nil, -5, shard.BatchKafkaV2, 300, batch)
	if len(head) != BatchHeadLen(300, len(batch)) {
		t.Fatalf("head of %d bytes; BatchHeadLen says %d", len(head), BatchHeadLen(300, len(batch)))
	}
	format, count, got, err := DecodeBatchHead(head)
	if err != nil || format != shard.BatchKafkaV2 || count != 300 || !bytes.Equal(got, batch) {
		t.Fatalf("DecodeBatchHead = %d, %d, %q, %v; want 1, 300, %q, nil", format, count, got, err, batch)
	}
	ref := AppendBatchRef(nil, -5, 299)
	if dist, err := DecodeBatchRef(ref); err != nil || dist != 299 {
		t.Fatalf("DecodeBatchRef = %d, %v; want 299, nil", dist, err)
	}
	for _, b := range [][]byte{head, ref} {
		if ts, err := Timestamp(b); err != nil || ts != -5 {
			t.Fatalf("Timestamp(kind %d) = %d, %v; want -5, nil", b[0], ts, err)
		}
		called := false
		if err := KeyTags(b, func([]byte) { called = true }, func([]byte) { called = true }); err != nil || called {
			t.Fatalf("KeyTags(kind %d): err %v, called %v; want nil, false", b[0], err, called)
		}
	}
	bad := func(what string, b []byte) {
		t.Helper()
		if _, _, _, err := DecodeBatchHead(b); err == nil {
			t.Fatalf("DecodeBatchHead(%s) = nil error", what)
		}
	}
	bad("ref", ref)
	bad("records format", AppendBatchHead(nil, 0, shard.BatchRecords, 1, batch))
	bad("zero count", AppendBatchHead(nil, 0, shard.BatchKafkaV2, 0, batch))
	bad("short batch", AppendBatchHead(nil, 0, shard.BatchKafkaV2, 1, batch[:7]))
	if _, err := DecodeBatchRef(AppendBatchRef(nil, 0, 0)); err == nil {
		t.Fatal("DecodeBatchRef(dist 0) = nil error")
	}
}
