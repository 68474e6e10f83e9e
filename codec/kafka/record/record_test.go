package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"testing"

	"robustmq/codec/kafka"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kmsgRecords returns n records encoded by franz-go's kmsg (length-prefixed,
// as inside a batch) and the records themselves.
func kmsgRecords(rng *rand.Rand, n int) ([]byte, []kmsg.Record) {
	var raw []byte
	recs := make([]kmsg.Record, n)
	for i := range recs {
		r := kmsg.Record{
			Attributes:       0,
			TimestampDelta64: int64(rng.IntN(1 << 20)),
			OffsetDelta:      int32(i),
			Value:            bytes.Repeat([]byte{byte('a' + i%26)}, rng.IntN(300)),
		}
		if i%3 != 0 {
			r.Key = []byte("key-" + strconv.Itoa(i))
		}
		for h := 0; h < i%3; h++ {
			r.Headers = append(r.Headers, kmsg.Header{Key: "h" + strconv.Itoa(h), Value: []byte("v")})
		}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // body size: the encoding with a 1-byte length 0
		recs[i] = r
		raw = r.AppendTo(raw)
	}
	return raw, recs
}

// kmsgBatch wraps records (compressed by franz-go's compressor) in a batch
// encoded by kmsg, with the CRC computed here.
func kmsgBatch(t *testing.T, raw []byte, n int, codec kgo.CompressionCodec, want Compression) []byte {
	t.Helper()
	body := raw
	if want != None {
		c, err := kgo.DefaultCompressor(codec)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out, typ := c.Compress(&buf, raw)
		if int(typ) != int(want) {
			t.Fatalf("kgo compressed with %d, want %d", typ, want)
		}
		body = append([]byte(nil), out...)
	}
	b := kmsg.RecordBatch{
		FirstOffset: 0, PartitionLeaderEpoch: 7, Magic: 2, Attributes: int16(want),
		LastOffsetDelta: int32(n - 1), FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_999,
		ProducerID: 42, ProducerEpoch: 3, FirstSequence: 11, NumRecords: int32(n), Records: body,
	}
	enc := b.AppendTo(nil)
	binary.BigEndian.PutUint32(enc[8:], uint32(len(enc)-12))
	binary.BigEndian.PutUint32(enc[17:], crc32.Checksum(enc[21:], crc32.MakeTable(crc32.Castagnoli)))
	return enc
}

var codecs = []struct {
	c    Compression
	kgo  kgo.CompressionCodec
	kgoT kgo.CompressionCodecType
}{
	{None, kgo.NoCompression(), kgo.CodecNone},
	{Gzip, kgo.GzipCompression(), kgo.CodecGzip},
	{Snappy, kgo.SnappyCompression(), kgo.CodecSnappy},
	{LZ4, kgo.Lz4Compression(), kgo.CodecLz4},
	{Zstd, kgo.ZstdCompression(), kgo.CodecZstd},
}

// TestKmsgBatchDecode parses batches built and compressed by franz-go, for
// every codec, and checks every header field and record.
func TestKmsgBatchDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range codecs {
		t.Run(c.c.String(), func(t *testing.T) {
			raw, recs := kmsgRecords(rng, 20)
			enc := kmsgBatch(t, raw, len(recs), c.kgo, c.c)
			b, data := parseAndCheck(t, enc, recs)
			want := Header{BaseOffset: 0, Length: int32(len(enc) - 12), PartitionLeaderEpoch: 7, Magic: 2,
				CRC: b.CRC, Attributes: int16(c.c), LastOffsetDelta: 19, FirstTimestamp: 1_700_000_000_000,
				MaxTimestamp: 1_700_000_000_999, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 11, NumRecords: 20}
			if b.Header != want {
				t.Fatalf("header\ngot  %+v\nwant %+v", b.Header, want)
			}
			if !bytes.Equal(data, raw) {
				t.Fatalf("decompressed records differ from what kmsg encoded")
			}
		})
	}
}

// parseAndCheck splits the batch off enc, decompresses it and checks its
// records against recs; it returns the batch and its records section.
func parseAndCheck(t *testing.T, enc []byte, recs []kmsg.Record) (Batch, []byte) {
	t.Helper()
	b, rest, err := Next(enc)
	if err != nil || len(rest) != 0 {
		t.Fatalf("Next: %v, %d bytes left", err, len(rest))
	}
	var d Decompressor
	data, err := d.Records(&b, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, data, recs)
	return b, data
}

func checkRecords(t *testing.T, data []byte, recs []kmsg.Record) {
	t.Helper()
	it := NewIter(data, int32(len(recs)))
	var r Record
	for i := range recs {
		if !it.Next(&r) {
			t.Fatalf("record %d: %v", i, it.Err())
		}
		w := recs[i]
		if r.OffsetDelta != w.OffsetDelta || r.TimestampDelta != w.TimestampDelta64 || r.Attributes != w.Attributes ||
			!bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) || !bytes.Equal(r.Value, w.Value) ||
			int(r.NumHeaders) != len(w.Headers) {
			t.Fatalf("record %d: got %+v; want %+v", i, r, w)
		}
		h := r.HeaderIter()
		for j := 0; h.Next(); j++ {
			if string(h.Key) != w.Headers[j].Key || !bytes.Equal(h.Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: got %q=%q; want %q=%q", i, j, h.Key, h.Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
	}
	if it.Next(&r) || it.Err() != nil {
		t.Fatalf("after the last record: next=%v err=%v", it.Next(&r), it.Err())
	}
}

// TestBuilderKmsgDecode builds batches with AppendBatch for every codec and
// has franz-go decode them: kmsg for the batch, kgo's decompressor (which
// reads xerial-framed snappy) for the records.
func TestBuilderKmsgDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var z Compressor
	dec := kgo.DefaultDecompressor()
	for _, c := range codecs {
		t.Run(c.c.String(), func(t *testing.T) {
			raw, recs := kmsgRecords(rng, 10)
			h := Header{BaseOffset: 100, PartitionLeaderEpoch: 2, Attributes: int16(c.c), LastOffsetDelta: 9,
				FirstTimestamp: 5, MaxTimestamp: 9, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}
			enc, err := AppendBatch([]byte("prefix"), h, raw, 10, &z)
			if err != nil {
				t.Fatal(err)
			}
			enc = enc[len("prefix"):]
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(enc); err != nil {
				t.Fatal(err)
			}
			if uint32(kb.CRC) != crc32.Checksum(enc[21:], crc32.MakeTable(crc32.Castagnoli)) ||
				kb.FirstOffset != 100 || kb.NumRecords != 10 || kb.Length != int32(len(enc)-12) || kb.Magic != 2 {
				t.Fatalf("kmsg sees %+v", kb)
			}
			got, err := dec.Decompress(kb.Records, c.kgoT)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, raw) {
				t.Fatalf("kgo decompressed records differ")
			}
			parseAndCheck(t, enc, recs)
		})
	}
}

// TestAppendRecordMatchesKmsg: our record encoding is byte-identical to kmsg's.
func TestAppendRecordMatchesKmsg(t *testing.T) {
	raw, recs := kmsgRecords(rand.New(rand.NewPCG(7, 8)), 30)
	var got []byte
	for _, w := range recs {
		var hdrs []byte
		for _, h := range w.Headers {
			hdrs = AppendHeader(hdrs, []byte(h.Key), h.Value)
		}
		got = AppendRecord(got, &Record{Attributes: w.Attributes, TimestampDelta: w.TimestampDelta64,
			OffsetDelta: w.OffsetDelta, Key: w.Key, Value: w.Value, NumHeaders: int32(len(w.Headers)), Headers: hdrs})
	}
	if !bytes.Equal(got, raw) {
		t.Fatalf("AppendRecord differs from kmsg\ngot  % x\nwant % x", got, raw)
	}
}

func TestBaseOffsetRewriteKeepsCRC(t *testing.T) {
	enc := testBatchBytes(t, Zstd)
	SetBaseOffset(enc, 1<<40+5)
	SetPartitionLeaderEpoch(enc, 9)
	b, _, err := Next(enc)
	if err != nil {
		t.Fatalf("after rewrite: %v", err)
	}
	if b.BaseOffset != 1<<40+5 || b.PartitionLeaderEpoch != 9 {
		t.Fatalf("got base offset %d epoch %d", b.BaseOffset, b.PartitionLeaderEpoch)
	}
}

func TestCRCMismatch(t *testing.T) {
	enc := testBatchBytes(t, None)
	for i := offAttributes; i < len(enc); i++ {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x01
		if _, _, err := Next(bad); !errors.Is(err, ErrCRC) {
			t.Fatalf("bit flipped at byte %d: got %v; want ErrCRC", i, err)
		}
	}
}

func TestNextErrors(t *testing.T) {
	enc := testBatchBytes(t, None)
	f := func(name string, in []byte, want error) {
		t.Helper()
		if _, _, err := Next(in); !errors.Is(err, want) {
			t.Fatalf("%s: got %v; want %v", name, err, want)
		}
	}
	for _, m := range []byte{0, 1} {
		legacy := bytes.Clone(enc)
		legacy[offMagic] = m
		f("magic "+strconv.Itoa(int(m)), legacy, ErrLegacyFormat)
	}
	bad := bytes.Clone(enc)
	bad[offMagic] = 3
	f("magic 3", bad, ErrCorrupt)
	bad = bytes.Clone(enc)
	binary.BigEndian.PutUint32(bad[offLength:], 10)
	f("short length", bad, ErrCorrupt)
	for n := 0; n < len(enc); n++ {
		f("prefix "+strconv.Itoa(n), enc[:n], ErrTruncated)
	}
	// Two batches back to back split cleanly.
	two := append(bytes.Clone(enc), enc...)
	_, rest, err := Next(two)
	if err != nil || !bytes.Equal(rest, enc) {
		t.Fatalf("first of two: err %v, rest %d bytes", err, len(rest))
	}
}

func TestDecompressLimit(t *testing.T) {
	raw := make([]byte, 1<<20) // compresses to almost nothing
	for _, c := range []Compression{Gzip, Snappy, LZ4, Zstd} {
		var z Compressor
		enc, err := AppendBatch(nil, Header{Attributes: int16(c)}, raw, 1, &z)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := Next(enc)
		if err != nil {
			t.Fatal(err)
		}
		d := Decompressor{MaxBytes: 64 << 10}
		if _, err := d.Records(&b, nil); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%v: 1 MiB with a 64 KiB limit: got %v; want ErrTooLarge", c, err)
		}
	}
}

func TestRawSnappy(t *testing.T) {
	// franz-go and librdkafka write one raw snappy block (no xerial framing).
	raw, recs := kmsgRecords(rand.New(rand.NewPCG(11, 12)), 8)
	enc := kmsgBatch(t, raw, len(recs), kgo.SnappyCompression(), Snappy)
	if bytes.HasPrefix(enc[HeaderSize:], xerialMagic) {
		t.Fatal("kgo wrote xerial framing; this test wants a raw block")
	}
	parseAndCheck(t, enc, recs)
}

func TestIterErrors(t *testing.T) {
	raw, recs := kmsgRecords(rand.New(rand.NewPCG(13, 14)), 3)
	f := func(name string, data []byte, count int32) {
		t.Helper()
		it := NewIter(data, count)
		var r Record
		for it.Next(&r) {
		}
		if !errors.Is(it.Err(), ErrCorrupt) {
			t.Fatalf("%s: got %v; want ErrCorrupt", name, it.Err())
		}
	}
	f("count too high", raw, int32(len(recs)+1))
	f("count too low", raw, int32(len(recs)-1))
	for n := 0; n < len(raw); n++ {
		f("prefix "+strconv.Itoa(n), raw[:n], int32(len(recs)))
	}
}

func TestErrorCode(t *testing.T) {
	enc := testBatchBytes(t, None)
	f := func(name string, in []byte, want kafka.ErrorCode) {
		t.Helper()
		_, _, err := Next(in)
		if got := ErrorCode(err); got != want {
			t.Fatalf("%s: error %v maps to %v; want %v", name, err, got, want)
		}
	}
	f("valid", enc, kafka.None)
	f("truncated", enc[:30], kafka.CorruptMessage)
	bad := bytes.Clone(enc)
	bad[len(bad)-1] ^= 1
	f("crc", bad, kafka.CorruptMessage)
	bad = bytes.Clone(enc)
	bad[offMagic] = 1
	f("magic 1", bad, kafka.CorruptMessage)
	bad = bytes.Clone(enc)
	bad[offAttributes+1] = 5
	binary.BigEndian.PutUint32(bad[offCRC:], crc32.Checksum(bad[offAttributes:], castagnoli))
	f("codec 5", bad, kafka.UnsupportedCompressionType)
	if got := ErrorCode(fail(ErrTooLarge, "x")); got != kafka.MessageTooLarge {
		t.Fatalf("ErrTooLarge maps to %v", got)
	}
}

func TestSetLogAppendTime(t *testing.T) {
	enc := testBatchBytes(t, Gzip)
	SetLogAppendTime(enc, 1_800_000_000_000)
	b, _, err := Next(enc)
	if err != nil {
		t.Fatalf("after SetLogAppendTime: %v", err)
	}
	if !b.LogAppendTime() || b.MaxTimestamp != 1_800_000_000_000 || b.Compression() != Gzip {
		t.Fatalf("got %+v", b.Header)
	}
}
