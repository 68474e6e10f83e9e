package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/codec/kafka"
	"robustmq/server/config"
)

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func readFrame(t *testing.T, c net.Conn) ([]byte, error) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(c, body)
	return body, err
}

func apiVersionsReq(corr int32, version int16) []byte {
	return kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: version, CorrelationID: corr, ClientID: []byte("raw")},
		&kafka.ApiVersionsRequest{ClientSoftwareName: []byte("raw"), ClientSoftwareVersion: []byte("1")})
}

// expectAnswer reads one ApiVersions answer at version and checks its
// correlation id and error code.
func expectAnswer(t *testing.T, c net.Conn, corr int32, version int16, code kafka.ErrorCode) {
	t.Helper()
	frame, err := readFrame(t, c)
	if err != nil {
		t.Fatalf("read answer %d: %v", corr, err)
	}
	got, body, err := kafka.ReadResponseHeader(frame, keyApiVersions, version)
	if err != nil {
		t.Fatal(err)
	}
	var resp kafka.ApiVersionsResponse
	if err := resp.ReadFrom(body, version); err != nil {
		t.Fatal(err)
	}
	if got != corr || kafka.ErrorCode(resp.ErrorCode) != code {
		t.Fatalf("answer corr %d code %v; want %d %v", got, kafka.ErrorCode(resp.ErrorCode), corr, code)
	}
	if len(resp.ApiKeys) < 20 {
		t.Fatalf("advertised %d apis; want every registered one", len(resp.ApiKeys))
	}
}

func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := readFrame(t, c); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection still open; want it closed")
		}
	}
}

// TestWire: bad input gets a clean answer or a close, never a crash, and
// the broker keeps serving.
func TestWire(t *testing.T) {
	b := startBroker(t, nil)
	t.Run("unknown ApiVersions version answered at v0", func(t *testing.T) {
		c := dial(t, b.addr)
		c.Write(apiVersionsReq(7, 99))
		expectAnswer(t, c, 7, 0, kafka.UnsupportedVersion)
		c.Write(apiVersionsReq(8, 3)) // the connection lives on
		expectAnswer(t, c, 8, 3, kafka.None)
	})
	t.Run("split at every byte and pipelined", func(t *testing.T) {
		c := dial(t, b.addr)
		stream := append(apiVersionsReq(1, 3), apiVersionsReq(2, 0)...)
		stream = append(stream, apiVersionsReq(3, 4)...)
		for i := range stream {
			if _, err := c.Write(stream[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
		expectAnswer(t, c, 1, 3, kafka.None)
		expectAnswer(t, c, 2, 0, kafka.None)
		expectAnswer(t, c, 3, 4, kafka.None)
	})
	t.Run("unregistered versions the codec speaks answered UNSUPPORTED_VERSION", func(t *testing.T) {
		answered := 0
		for _, a := range kafka.APIs() {
			for v := a.MinVersion; v <= a.MaxVersion; v++ {
				if b.s.reg.Supports(a.Key, v) || a.Key == keyApiVersions {
					continue
				}
				c := dial(t, b.addr)
				c.Write(kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: v, CorrelationID: 5}, onePartition(a.Key)))
				frame, err := readFrame(t, c)
				if err != nil {
					t.Fatalf("%s v%d: %v; want an answer", a.Name, v, err)
				}
				corr, body, err := kafka.ReadResponseHeader(frame, a.Key, v)
				resp := kafka.NewResponse(a.Key)
				if err == nil {
					err = resp.ReadFrom(body, v)
				}
				if codes := errorCodes(resp); err != nil || corr != 5 || len(codes) == 0 || slices.ContainsFunc(codes,
					func(c int16) bool { return c != int16(kafka.UnsupportedVersion) }) {
					t.Fatalf("%s v%d: corr %d codes %v, %v; want 5 and UNSUPPORTED_VERSION everywhere", a.Name, v, corr, codes, err)
				}
				c.Write(apiVersionsReq(6, 3)) // the connection lives on
				expectAnswer(t, c, 6, 3, kafka.None)
				answered++
			}
		}
		if answered == 0 {
			t.Fatal("no unregistered (api, version) pair to try")
		}
	})
	closes := map[string][]byte{
		"version the codec does not speak": kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 99, CorrelationID: 1},
			&kafka.HeartbeatRequest{}),
		"unknown api key": {0, 0, 0, 10, 0, 99, 0, 0, 0, 0, 0, 1, 0xff, 0xff},
		"truncated body": func() []byte {
			f := kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 12, CorrelationID: 1},
				&kafka.MetadataRequest{Topics: []kafka.MetadataRequestTopic{{Name: []byte("abc")}}})
			f = f[:len(f)-3]
			binary.BigEndian.PutUint32(f, uint32(len(f)-4))
			return f
		}(),
		"lying array length": {0, 0, 0, 14, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff},
		"oversize frame":     {0x7f, 0xff, 0xff, 0xff, 0, 18},
		"negative size":      {0xff, 0xff, 0xff, 0xf0},
		"short header":       {0, 0, 0, 3, 0, 18, 0},
	}
	for name, in := range closes {
		t.Run(name, func(t *testing.T) {
			c := dial(t, b.addr)
			c.Write(in)
			expectClosed(t, c)
		})
	}
	c := dial(t, b.addr)
	c.Write(apiVersionsReq(9, 3))
	expectAnswer(t, c, 9, 3, kafka.None)

	var prom bytes.Buffer
	metrics.WritePrometheus(&prom, false)
	for _, want := range []string{`robustmq_kafka_errors_total{api="ApiVersions",code="UNSUPPORTED_VERSION"}`,
		`robustmq_kafka_requests_total{api="ApiVersions"}`, `robustmq_kafka_request_duration_seconds_bucket{api="ApiVersions"`} {
		if !strings.Contains(prom.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// onePartition is an empty request of key naming topic "t" partition 0
// where its errors are per partition.
func onePartition(key int16) kafka.Message {
	m := kafka.NewRequest(key)
	switch r := m.(type) {
	case *kafka.ProduceRequest:
		r.Acks = 1
		r.Topics = []kafka.ProduceRequestTopic{{Name: []byte("t"), Partitions: []kafka.ProduceRequestTopicPartition{{}}}}
	case *kafka.FetchRequest:
		r.Topics = []kafka.FetchRequestTopic{{Name: []byte("t"), Partitions: []kafka.FetchRequestTopicPartition{{}}}}
	case *kafka.ListOffsetsRequest:
		r.Topics = []kafka.ListOffsetsRequestTopic{{Name: []byte("t"), Partitions: []kafka.ListOffsetsRequestTopicPartition{{}}}}
	case *kafka.OffsetCommitRequest:
		r.Topics = []kafka.OffsetCommitRequestTopic{{Name: []byte("t"), Partitions: []kafka.OffsetCommitRequestTopicPartition{{}}}}
	case *kafka.OffsetFetchRequest:
		r.Topics = []kafka.OffsetFetchRequestTopic{{Name: []byte("t"), PartitionIndexes: []int32{0}}}
	}
	return m
}

// errorCodes lists the error codes of an answer: its top-level one, or
// those of every partition for the per-partition APIs.
func errorCodes(m kafka.Message) []int16 {
	var out []int16
	switch r := m.(type) {
	case *kafka.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				out = append(out, p.ErrorCode)
			}
		}
	case *kafka.FetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				out = append(out, p.ErrorCode)
			}
		}
	case *kafka.ListOffsetsResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				out = append(out, p.ErrorCode)
			}
		}
	case *kafka.OffsetCommitResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				out = append(out, p.ErrorCode)
			}
		}
	case *kafka.OffsetFetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				out = append(out, p.ErrorCode)
			}
		}
	case *kafka.SaslHandshakeResponse:
		out = append(out, r.ErrorCode)
	}
	return out
}

// TestInflightLimit: a client that piles up more unanswered requests
// (parked fetches) than MaxInflight is closed.
func TestInflightLimit(t *testing.T) {
	b := startBroker(t, func(o *Options) { o.MaxInflight = 4 })
	createTopic(t, b.client(t), "inf", 1)
	c := dial(t, b.addr)
	for i := range 5 {
		c.Write(kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 12, CorrelationID: int32(i)}, &kafka.FetchRequest{
			ReplicaID: -1, MaxWaitMs: 20000, MinBytes: 1, MaxBytes: 1 << 20, SessionEpoch: -1,
			Topics: []kafka.FetchRequestTopic{{Name: []byte("inf"), Partitions: []kafka.FetchRequestTopicPartition{{MaxBytes: 1 << 20}}}}}))
	}
	expectClosed(t, c)
}

func TestNewOptionErrors(t *testing.T) {
	_, err := New(Options{Advertised: "nohost", SASLMechanisms: []string{"GSSAPI"}})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("err %v; want ErrConfig", err)
	}
	for _, want := range []string{"Router is nil", "Offsets is nil", `Advertised "nohost"`, `"GSSAPI" is not`, "without Users"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.BrokerIP, cfg.BrokerID, cfg.ClusterName = "10.0.0.7", 3, "prod"
	cfg.KafkaRuntime.SASL.Enabled = true
	o := FromConfig(cfg)
	if o.Advertised != "10.0.0.7:9092" || o.NodeID != 3 || o.ClusterID != "prod" || !o.AutoCreate ||
		o.MaxFetchBytes != 4<<20 || o.MaxMessageBytes != 1048588 || len(o.SASLMechanisms) != 2 {
		t.Fatalf("FromConfig: %+v", o)
	}
}
