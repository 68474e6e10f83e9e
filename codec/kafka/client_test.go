package kafka

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBroker answers ApiVersions and Metadata over real sockets with this
// codec, so real clients exercise framing, header versions and version
// negotiation. ApiVersions is registered only up to v3: clients that open
// with v4 get the UNSUPPORTED_VERSION answer (response header v0) and retry.
type testBroker struct {
	t    *testing.T
	ln   net.Listener
	reg  Registry
	host string
	port int32
	wg   sync.WaitGroup // accept loop and connection goroutines
	mu   sync.Mutex
	seen map[int16][]int16 // key -> versions served; guarded by mu
}

func startBroker(t *testing.T) *testBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	b := &testBroker{t: t, ln: ln, host: "127.0.0.1", port: int32(addr.Port), seen: map[int16][]int16{}}
	for _, k := range [][3]int16{{18, 0, 3}, {3, 0, 12}} {
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
		frame, _, err := Frame(buf, 1<<20)
		if err != nil {
			b.t.Errorf("Frame: %v", err)
			return
		}
		h, body, err := ReadRequestHeader(frame)
		if !errors.Is(err, ErrUnsupportedVersion) && err != nil {
			b.t.Errorf("header: %v", err)
			return
		}
		if err == nil && !b.reg.Supports(h.APIKey, h.APIVersion) {
			err = ErrUnsupportedVersion
		}
		var resp Message
		version := h.APIVersion
		switch {
		case err != nil && h.APIKey == 18:
			// Unknown ApiVersions version: answer v0 with the versions we have.
			version = 0
			resp = &ApiVersionsResponse{ErrorCode: int16(UnsupportedVersion), ApiKeys: b.reg.AppendAPIKeys(nil)}
		case err != nil:
			b.t.Errorf("client sent unadvertised key %d v%d", h.APIKey, h.APIVersion)
			return
		case h.APIKey == 18:
			resp = &ApiVersionsResponse{ApiKeys: b.reg.AppendAPIKeys(nil)}
		case h.APIKey == 3:
			var req MetadataRequest
			if err := req.ReadFrom(body, version); err != nil {
				b.t.Errorf("metadata: %v", err)
				return
			}
			m := &MetadataResponse{ClusterID: []byte("robustmq"), ControllerID: 1,
				Brokers: []MetadataResponseBroker{{NodeID: 1, Host: []byte(b.host), Port: b.port}}}
			for _, tp := range req.Topics {
				m.Topics = append(m.Topics, MetadataResponseTopic{ErrorCode: int16(UnknownTopicOrPartition), Name: tp.Name,
					TopicAuthorizedOperations: -2147483648})
			}
			resp = m
		}
		b.mu.Lock()
		b.seen[h.APIKey] = append(b.seen[h.APIKey], h.APIVersion)
		b.mu.Unlock()
		out = AppendResponse(out[:0], h.CorrelationID, version, resp)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
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
	topic.Topic = kmsg.StringPtr("orders")
	req.Topics = append(req.Topics, topic)
	r, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 || resp.Brokers[0].Port != b.port || *resp.ClusterID != "robustmq" ||
		len(resp.Topics) != 1 || *resp.Topics[0].Topic != "orders" || resp.Topics[0].ErrorCode != 3 {
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
