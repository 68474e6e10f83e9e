package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"robustmq/codec/kafka"
	"robustmq/codec/kafka/record"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBroker answers ApiVersions, Metadata and Produce over real sockets
// with this codec, so real clients exercise framing, header versions,
// version negotiation and record batches. ApiVersions is registered only up
// to v3: clients that open with v4+ get the UNSUPPORTED_VERSION answer
// (response header v0). Topic "orders" has one partition led by this broker;
// other topics are unknown.
type testBroker struct {
	t    *testing.T
	ln   net.Listener
	reg  kafka.Registry
	host string
	port int32
	wg   sync.WaitGroup // accept loop and connection goroutines

	mu       sync.Mutex
	seen     map[int16][]int16    // key -> versions served; guarded by mu
	values   []string             // record values produced, in order; guarded by mu
	codecs   []record.Compression // guarded by mu
	stored   []byte               // the partition's batches, offsets assigned; guarded by mu
	nextOffs int64                // guarded by mu
}

func startBroker(t *testing.T) *testBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	b := &testBroker{t: t, ln: ln, host: "127.0.0.1", port: int32(addr.Port), seen: map[int16][]int16{}}
	// Produce up to v12 and Fetch up to v12: later versions address topics
	// by id only.
	for _, k := range [][3]int16{{18, 0, 3}, {3, 0, 12}, {0, 3, 12}, {1, 4, 12}} {
		if err := b.reg.Register(k[0], k[1], k[2]); err != nil {
			t.Fatal(err)
		}
	}
	var conns sync.Map
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer c.Close()
				b.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(c, _ any) bool { c.(net.Conn).Close(); return true })
		b.wg.Wait()
	})
	return b
}

func (b *testBroker) versions(key int16) []int16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int16(nil), b.seen[key]...)
}

func (b *testBroker) serve(c net.Conn) {
	br := bufio.NewReader(c)
	var buf, out []byte
	for {
		var size [4]byte
		if _, err := io.ReadFull(br, size[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if n > 1<<20 {
			b.t.Errorf("frame of %d bytes", n)
			return
		}
		buf = append(append(buf[:0], size[:]...), make([]byte, n)...)
		if _, err := io.ReadFull(br, buf[4:]); err != nil {
			return
		}
		frame, _, err := kafka.Frame(buf, 1<<20)
		if err != nil {
			b.t.Errorf("Frame: %v", err)
			return
		}
		h, body, err := kafka.ReadRequestHeader(frame)
		if !errors.Is(err, kafka.ErrUnsupportedVersion) && err != nil {
			b.t.Errorf("header: %v", err)
			return
		}
		if err == nil && !b.reg.Supports(h.APIKey, h.APIVersion) {
			err = kafka.ErrUnsupportedVersion
		}
		b.mu.Lock()
		b.seen[h.APIKey] = append(b.seen[h.APIKey], h.APIVersion)
		b.mu.Unlock()
		version := h.APIVersion
		var resp kafka.Message
		switch {
		case err != nil && h.APIKey == 18:
			// Unknown ApiVersions version: answer v0 with the versions we have.
			version = 0
			resp = &kafka.ApiVersionsResponse{ErrorCode: int16(kafka.UnsupportedVersion), ApiKeys: b.reg.AppendAPIKeys(nil)}
		case err != nil:
			b.t.Errorf("client sent unadvertised key %d v%d", h.APIKey, h.APIVersion)
			return
		default:
			if resp, err = b.answer(h, body); err != nil {
				b.t.Errorf("key %d v%d: %v", h.APIKey, h.APIVersion, err)
				return
			}
		}
		if resp == nil { // acks=0
			continue
		}
		out = kafka.AppendResponse(out[:0], h.CorrelationID, version, resp)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func (b *testBroker) answer(h kafka.RequestHeader, body []byte) (kafka.Message, error) {
	switch h.APIKey {
	case 18:
		return &kafka.ApiVersionsResponse{ApiKeys: b.reg.AppendAPIKeys(nil)}, nil
	case 3:
		var req kafka.MetadataRequest
		if err := req.ReadFrom(body, h.APIVersion); err != nil {
			return nil, err
		}
		m := &kafka.MetadataResponse{ClusterID: []byte("robustmq"), ControllerID: 1,
			Brokers: []kafka.MetadataResponseBroker{{NodeID: 1, Host: []byte(b.host), Port: b.port}}}
		for _, tp := range req.Topics {
			t := kafka.MetadataResponseTopic{Name: tp.Name, TopicAuthorizedOperations: -2147483648}
			if string(tp.Name) == "orders" {
				t.Partitions = []kafka.MetadataResponseTopicPartition{{LeaderID: 1, LeaderEpoch: 0,
					ReplicaNodes: []int32{1}, IsrNodes: []int32{1}}}
			} else {
				t.ErrorCode = int16(kafka.UnknownTopicOrPartition)
			}
			m.Topics = append(m.Topics, t)
		}
		return m, nil
	case 0:
		var req kafka.ProduceRequest
		if err := req.ReadFrom(body, h.APIVersion); err != nil {
			return nil, err
		}
		resp := &kafka.ProduceResponse{}
		for _, tp := range req.Topics {
			rt := kafka.ProduceResponseTopic{Name: tp.Name}
			for _, p := range tp.Partitions {
				var rp kafka.ProduceResponseTopicPartition
				rp.Default()
				rp.Index = p.Index
				rp.BaseOffset, rp.ErrorCode = b.append(p.Records)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		if req.Acks == 0 {
			return nil, nil
		}
		return resp, nil
	case 1:
		var req kafka.FetchRequest
		if err := req.ReadFrom(body, h.APIVersion); err != nil {
			return nil, err
		}
		resp := &kafka.FetchResponse{}
		for _, tp := range req.Topics {
			rt := kafka.FetchResponseTopic{Name: tp.Name}
			for _, p := range tp.Partitions {
				var rp kafka.FetchResponseTopicPartition
				rp.Default()
				rp.Index = p.Index
				rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset, rp.Records = b.fetch(p.FetchOffset)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	return nil, errors.New("no handler")
}

// fetch returns the high watermark, last stable offset, log start offset
// and the stored batches from the one holding offset on, as stored.
func (b *testBroker) fetch(offset int64) (hw, lso, start int64, batches []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for in := b.stored; len(in) > 0; {
		bt, rest, err := record.Next(in)
		if err != nil {
			b.t.Errorf("stored batch: %v", err)
			return
		}
		if bt.BaseOffset+int64(bt.LastOffsetDelta) >= offset {
			batches = bytes.Clone(in)
			break
		}
		in = rest
	}
	return b.nextOffs, b.nextOffs, 0, batches
}

// append validates the batches of one partition the way the broker will:
// CRC, decompression, every record; assigns offsets by rewriting base
// offsets; and keeps the values.
func (b *testBroker) append(records []byte) (int64, int16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	base := b.nextOffs
	var d record.Decompressor
	for len(records) > 0 {
		bt, rest, err := record.Next(records)
		if err != nil {
			return -1, int16(record.ErrorCode(err))
		}
		data, err := d.Records(&bt, nil)
		if err != nil {
			return -1, int16(record.ErrorCode(err))
		}
		it := record.NewIter(data, bt.NumRecords)
		var r record.Record
		for it.Next(&r) {
			b.values = append(b.values, string(r.Value))
		}
		if it.Err() != nil {
			return -1, int16(record.ErrorCode(it.Err()))
		}
		record.SetBaseOffset(bt.Raw, b.nextOffs)
		if _, _, err := record.Next(bt.Raw); err != nil {
			b.t.Errorf("batch invalid after base offset rewrite: %v", err)
		}
		b.codecs = append(b.codecs, bt.Compression())
		b.stored = append(b.stored, bt.Raw...)
		b.nextOffs += int64(bt.LastOffsetDelta) + 1
		records = rest
	}
	return base, 0
}

// TestFranzGoClient: franz-go negotiates with our ApiVersions (through the
// UNSUPPORTED_VERSION answer) and reads our Metadata at the highest version
// we advertise, with flexible request and response headers.
func TestFranzGoClient(t *testing.T) {
	b := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.host+":"+strconv.Itoa(int(b.port))), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	topic := kmsg.NewMetadataRequestTopic()
	topic.Topic = kmsg.StringPtr("missing")
	req.Topics = append(req.Topics, topic)
	r, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Port != b.port || *resp.ClusterID != "robustmq" ||
		len(resp.Topics) != 1 || *resp.Topics[0].Topic != "missing" || resp.Topics[0].ErrorCode != 3 {
		t.Fatalf("metadata: %+v", resp)
	}
	// franz-go opens with its newest ApiVersions (above our v3), reads the
	// v0 UNSUPPORTED_VERSION answer and takes the versions listed in it.
	if av := b.versions(18); len(av) == 0 || av[0] <= 3 {
		t.Fatalf("ApiVersions versions seen %v; want one above 3 first", av)
	}
	t.Logf("franz-go: ApiVersions %v, Metadata %v", b.versions(18), b.versions(3))
	if mv := b.versions(3); len(mv) == 0 || mv[len(mv)-1] != 12 {
		t.Fatalf("Metadata versions seen %v; want 12", mv)
	}
}

// TestSaramaClient: sarama (ApiVersions v3, then Metadata at the version its
// configured Kafka version implies) reads our answers.
func TestSaramaClient(t *testing.T) {
	b := startBroker(t)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Metadata.Retry.Max = 0
	cfg.Net.DialTimeout = 5 * time.Second
	cl, err := sarama.NewClient([]string{b.host + ":" + strconv.Itoa(int(b.port))}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	brokers := cl.Brokers()
	if len(brokers) != 1 || brokers[0].ID() != 1 {
		t.Fatalf("brokers: %v", brokers)
	}
	t.Logf("sarama: ApiVersions %v, Metadata %v", b.versions(18), b.versions(3))
	if len(b.versions(18)) == 0 || len(b.versions(3)) == 0 {
		t.Fatalf("sarama sent ApiVersions %v, Metadata %v", b.versions(18), b.versions(3))
	}
}

// TestFranzGoProduce: franz-go's producer, with each compression codec,
// sends batches that the codec decodes, CRC-checks, decompresses and
// iterates, and reads our Produce responses.
func TestFranzGoProduce(t *testing.T) {
	for _, c := range []struct {
		codec kgo.CompressionCodec
		want  record.Compression
	}{
		{kgo.NoCompression(), record.None},
		{kgo.GzipCompression(), record.Gzip},
		{kgo.SnappyCompression(), record.Snappy},
		{kgo.Lz4Compression(), record.LZ4},
		{kgo.ZstdCompression(), record.Zstd},
	} {
		t.Run(c.want.String(), func(t *testing.T) {
			b := startBroker(t)
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.host+":"+strconv.Itoa(int(b.port))),
				kgo.ProducerBatchCompression(c.codec), kgo.DisableIdempotentWrite(), kgo.RequestRetries(0),
				kgo.ProducerLinger(0))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var recs []*kgo.Record
			for i := 0; i < 50; i++ {
				// Compressible even alone: franz-go sends a batch uncompressed
				// when compressing does not make it smaller.
				recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte("value-" + strconv.Itoa(i) + "-" +
					strings.Repeat("x", 300+i))})
			}
			results := cl.ProduceSync(ctx, recs...)
			if err := results.FirstErr(); err != nil {
				t.Fatal(err)
			}
			for i, r := range results {
				if r.Record.Offset != int64(i) {
					t.Fatalf("record %d got offset %d", i, r.Record.Offset)
				}
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.values) != 50 || b.values[7] != string(recs[7].Value) || b.values[49] != string(recs[49].Value) {
				t.Fatalf("broker decoded %d values", len(b.values))
			}
			for _, got := range b.codecs {
				if got != c.want {
					t.Fatalf("batch compressed with %v; want %v", got, c.want)
				}
			}
		})
	}
}

// TestFranzGoRoundTrip: records produced by franz-go (zstd), stored as they
// arrived with offsets rewritten, are served by Fetch as stored bytes and
// consumed by franz-go with the right offsets and values.
func TestFranzGoRoundTrip(t *testing.T) {
	b := startBroker(t)
	addr := b.host + ":" + strconv.Itoa(int(b.port))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.DisableIdempotentWrite())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 30
	for i := 0; i < n; i += 10 { // three produce requests, three batches
		var recs []*kgo.Record
		for j := i; j < i+10; j++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte("k" + strconv.Itoa(j)), Value: []byte("v" + strconv.Itoa(j))})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {0: kgo.NewOffset().At(5)}}),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	next := int64(5)
	for next < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed up to offset %d: %v", next, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next || string(r.Value) != "v"+strconv.Itoa(int(next)) || string(r.Key) != "k"+strconv.Itoa(int(next)) {
				t.Fatalf("got offset %d %q=%q; want offset %d", r.Offset, r.Key, r.Value, next)
			}
			next++
		})
	}
}
