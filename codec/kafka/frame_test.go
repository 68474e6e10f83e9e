package kafka

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kmsgFrame returns a whole request frame for key at version, written by
// kmsg's RequestFormatter (client id "cli") from random field values.
func kmsgFrame(rng *rand.Rand, key, version int16, corr int32) []byte {
	req := kmsg.RequestForKey(key)
	fill(rng, reflect.ValueOf(req), 0)
	req.SetVersion(version)
	return kmsg.NewRequestFormatter(kmsg.FormatterClientID("cli")).AppendRequest(nil, req, corr)
}

// TestKmsgRequestFrames parses a kmsg-written frame for every API and
// version: framing, header v1/v2 and body, and re-encodes it identically.
func TestKmsgRequestFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, a := range APIs() {
		for v := a.MinVersion; v <= a.MaxVersion; v++ {
			in := kmsgFrame(rng, a.Key, v, int32(v)+100)
			frame, n, err := Frame(in, DefaultMaxFrameBytes)
			if err != nil || n != len(in) {
				t.Fatalf("%s v%d: Frame: n=%d of %d, %v", a.Name, v, n, len(in), err)
			}
			h, body, err := ReadRequestHeader(frame)
			if err != nil {
				t.Fatalf("%s v%d: header: %v", a.Name, v, err)
			}
			want := RequestHeader{APIKey: a.Key, APIVersion: v, CorrelationID: int32(v) + 100, ClientID: []byte("cli")}
			if !reflect.DeepEqual(h, want) {
				t.Fatalf("%s v%d: header got %+v; want %+v", a.Name, v, h, want)
			}
			m := NewRequest(a.Key)
			if err := m.ReadFrom(body, v); err != nil {
				t.Fatalf("%s v%d: body: %v", a.Name, v, err)
			}
			if got := AppendRequest(nil, RequestHeader{APIVersion: v, CorrelationID: int32(v) + 100, ClientID: []byte("cli")}, m); !bytes.Equal(got, in) {
				t.Fatalf("%s v%d: AppendRequest differs from kmsg\ngot  % x\nwant % x", a.Name, v, got, in)
			}
		}
	}
}

// TestHeaderQuirks pins the irregular corners of the header formats.
func TestHeaderQuirks(t *testing.T) {
	// Request header v2 (ApiVersions v3 is flexible): the client id is an
	// int16-length string, not compact; then an empty tagged-field section.
	frame := []byte{0, 18, 0, 3, 0, 0, 0, 9, 0, 2, 'a', 'b', 0, 'B', 'O', 'D', 'Y'}
	h, body, err := ReadRequestHeader(frame)
	if err != nil || string(h.ClientID) != "ab" || h.CorrelationID != 9 || string(body) != "BODY" {
		t.Fatalf("v2 header: got %+v body %q err %v", h, body, err)
	}
	// Request header v1 (ApiVersions v2): no tagged fields; null client id.
	frame = []byte{0, 18, 0, 2, 0, 0, 0, 9, 0xff, 0xff, 'B'}
	h, body, err = ReadRequestHeader(frame)
	if err != nil || h.ClientID != nil || string(body) != "B" {
		t.Fatalf("v1 header, null client id: got %+v body %q err %v", h, body, err)
	}
	// A header v2 with an unknown tag is skipped.
	frame = []byte{0, 18, 0, 3, 0, 0, 0, 9, 0, 0, 1, 5, 2, 'x', 'y', 'B'}
	if _, body, err = ReadRequestHeader(frame); err != nil || string(body) != "B" {
		t.Fatalf("v2 header with a tag: body %q err %v", body, err)
	}

	f := func(m Message, version int16, wantTagByte bool) {
		t.Helper()
		out := AppendResponse(nil, 7, version, m)
		body := m.AppendTo(nil, version)
		hdr := len(out) - 4 - len(body)
		if want := map[bool]int{false: 4, true: 5}[wantTagByte]; hdr != want {
			t.Fatalf("%T v%d: response header is %d bytes; want %d", m, version, hdr, want)
		}
		corr, got, err := ReadResponseHeader(out[4:], m.APIKey(), version)
		if err != nil || corr != 7 || !bytes.Equal(got, body) {
			t.Fatalf("%T v%d: ReadResponseHeader corr %d err %v", m, version, corr, err)
		}
	}
	// ApiVersions answers with header v0 even at flexible versions, so a
	// client that sent a version the broker does not know can read it.
	f(&ApiVersionsResponse{}, 3, false)
	f(&ApiVersionsResponse{}, 0, false)
	f(&MetadataResponse{}, 8, false)
	f(&MetadataResponse{}, 9, true)
	f(&DescribeClusterResponse{}, 0, true)
	f(&SaslHandshakeResponse{}, 1, false)
}

// TestFlexibleTable checks our flexible-version table against kmsg's.
func TestFlexibleTable(t *testing.T) {
	for _, a := range APIs() {
		for v := a.MinVersion; v <= a.MaxVersion; v++ {
			k := kmsg.RequestForKey(a.Key)
			k.SetVersion(v)
			if got, want := a.Flexible(v), k.IsFlexible(); got != want {
				t.Fatalf("%s v%d: flexible %v; kmsg says %v", a.Name, v, got, want)
			}
		}
		if k := kmsg.RequestForKey(a.Key); k.MaxVersion() < a.MaxVersion {
			t.Fatalf("%s: our max v%d is above kmsg's v%d", a.Name, a.MaxVersion, k.MaxVersion())
		}
	}
}

func TestUnsupported(t *testing.T) {
	f := func(name string, frame []byte, wantKey, wantVersion int16) {
		t.Helper()
		h, body, err := ReadRequestHeader(frame)
		if !errors.Is(err, ErrUnsupportedVersion) || h.APIKey != wantKey || h.APIVersion != wantVersion ||
			h.CorrelationID != 77 || body != nil {
			t.Fatalf("%s: got %+v body %q err %v; want ErrUnsupportedVersion with key %d v%d corr 77",
				name, h, body, err, wantKey, wantVersion)
		}
	}
	f("unknown key", []byte{0x03, 0xe8, 0, 0, 0, 0, 0, 77, 0, 0}, 1000, 0)
	f("ApiVersions v99", []byte{0, 18, 0, 99, 0, 0, 0, 77, 0, 1, 'c', 0}, 18, 99)
	f("Produce v-1", []byte{0, 0, 0xff, 0xff, 0, 0, 0, 77, 0xff, 0xff}, 0, -1)
	for n := 0; n < 10; n++ {
		if _, _, err := ReadRequestHeader([]byte{0, 18, 0, 3, 0, 0, 0, 9, 0, 2, 'a', 'b', 0}[:n]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("header prefix of %d bytes: got %v; want ErrTruncated", n, err)
		}
	}
}

func TestFrame(t *testing.T) {
	f := func(in []byte, max int, wantFrame string, wantN int, wantErr error) {
		t.Helper()
		frame, n, err := Frame(in, max)
		if string(frame) != wantFrame || n != wantN || !errors.Is(err, wantErr) {
			t.Fatalf("Frame(% x, %d) = %q, %d, %v; want %q, %d, %v", in, max, frame, n, err, wantFrame, wantN, wantErr)
		}
	}
	f(nil, 10, "", 0, nil)
	f([]byte{0, 0, 0}, 10, "", 0, nil)
	f([]byte{0, 0, 0, 2, 'a'}, 10, "", 0, nil)
	f([]byte{0, 0, 0, 2, 'a', 'b', 'c'}, 10, "ab", 6, nil)
	f([]byte{0, 0, 0, 0}, 10, "", 4, nil)
	// Oversize and negative sizes are refused from the 4 size bytes alone,
	// before anything is buffered.
	f([]byte{0, 0, 0, 11}, 10, "", 0, ErrFrameTooLarge)
	f([]byte{0x7f, 0xff, 0xff, 0xff}, DefaultMaxFrameBytes, "", 0, ErrFrameTooLarge)
	f([]byte{0xff, 0xff, 0xff, 0xff}, DefaultMaxFrameBytes, "", 0, ErrFrameTooLarge)
}

// TestSplitFrames feeds a stream of kmsg-written requests split at every
// byte, the way netpoll presents it (unconsumed bytes come back followed by
// the next read), and expects every request decoded exactly once.
func TestSplitFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	var stream []byte
	var want []RequestHeader
	for i, k := range []int16{0, 1, 18, 3, 11} {
		a, _ := LookupAPI(k)
		stream = append(stream, kmsgFrame(rng, k, a.MaxVersion, int32(i))...)
		want = append(want, RequestHeader{APIKey: k, APIVersion: a.MaxVersion, CorrelationID: int32(i), ClientID: []byte("cli")})
	}
	for cut := 0; cut <= len(stream); cut++ {
		var got []RequestHeader
		var pending []byte
		for _, read := range [][]byte{stream[:cut], stream[cut:]} {
			in := append(pending, read...)
			off := 0
			for {
				frame, n, err := Frame(in[off:], DefaultMaxFrameBytes)
				if err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
				if n == 0 {
					break
				}
				off += n
				h, body, err := ReadRequestHeader(frame)
				if err != nil {
					t.Fatalf("cut %d: header: %v", cut, err)
				}
				if err := NewRequest(h.APIKey).ReadFrom(body, h.APIVersion); err != nil {
					t.Fatalf("cut %d: body: %v", cut, err)
				}
				h.ClientID = bytes.Clone(h.ClientID)
				got = append(got, h)
			}
			pending = append([]byte(nil), in[off:]...)
		}
		if len(pending) != 0 || !reflect.DeepEqual(got, want) {
			t.Fatalf("cut %d: got %+v, %d bytes pending; want %+v", cut, got, len(pending), want)
		}
	}
}

// TestTruncatedMessages decodes every strict prefix of every message at
// every version: each must fail with ErrTruncated, none may panic.
func TestTruncatedMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, a := range APIs() {
		for _, resp := range []bool{false, true} {
			for v := a.MinVersion; v <= a.MaxVersion; v++ {
				m := ours(a.Key, resp)
				fill(rng, reflect.ValueOf(m), 0)
				full := m.AppendTo(nil, v)
				for n := 0; n < len(full); n++ {
					err := ours(a.Key, resp).ReadFrom(full[:n], v)
					var de *DecodeError
					if !errors.Is(err, ErrTruncated) || !errors.As(err, &de) || de.Offset > n {
						t.Fatalf("%T v%d: %d of %d bytes: got %v; want ErrTruncated", m, v, n, len(full), err)
					}
				}
			}
		}
	}
}

// TestLyingLengths: lengths far beyond the input fail without allocating
// for them.
func TestLyingLengths(t *testing.T) {
	f := func(name string, body []byte, version int16, m Message) {
		t.Helper()
		allocs := testing.AllocsPerRun(10, func() {
			if err := m.ReadFrom(body, version); err == nil {
				t.Fatalf("%s: decoded", name)
			}
		})
		if allocs > 1 { // the *DecodeError
			t.Fatalf("%s: %v allocations", name, allocs)
		}
	}
	f("array of 2^31-1 topics", []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}, 3, &ProduceRequest{})
	f("compact array of 2^32-2", []byte{0, 0xff, 0xff, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, 9, &ProduceRequest{})
	f("tag count 2^32-1", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, 3, &ApiVersionsRequest{})
	f("uvarint of 6 bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 3, &ApiVersionsRequest{})
	f("negative string length", []byte{0x80, 0x00}, 0, &SaslHandshakeRequest{})
	f("null non-nullable compact string", []byte{0}, 3, &ApiVersionsRequest{})
}

// TestDefaults: fields a version does not carry decode to their defaults.
func TestDefaults(t *testing.T) {
	var fr FetchRequest
	in := (&FetchRequest{MaxWaitMs: 5}).AppendTo(nil, 2)
	if err := fr.ReadFrom(in, 2); err != nil {
		t.Fatal(err)
	}
	if fr.MaxBytes != 2147483647 || fr.SessionEpoch != -1 || fr.ReplicaState.ID != -1 || fr.ReplicaState.Epoch != -1 || fr.MaxWaitMs != 5 {
		t.Fatalf("Fetch v2 defaults: %+v", fr)
	}
	var p ProduceResponseTopicPartition
	p.Default()
	if p.LogAppendTimeMs != -1 || p.LogStartOffset != -1 || p.CurrentLeader.LeaderID != -1 {
		t.Fatalf("ProduceResponse partition defaults: %+v", p)
	}
	// A tagged field at its default is not written; away from it, it is.
	r := FetchResponse{Topics: []FetchResponseTopic{{Partitions: []FetchResponseTopicPartition{{}}}}}
	r.Topics[0].Partitions[0].Default()
	plain := len(r.AppendTo(nil, 12))
	r.Topics[0].Partitions[0].CurrentLeader.LeaderID = 3
	if got := len(r.AppendTo(nil, 12)); got <= plain {
		t.Fatalf("tagged CurrentLeader not written: %d bytes, %d without it", got, plain)
	}
}

func TestRegistry(t *testing.T) {
	var r Registry
	for _, k := range []int16{18, 0, 3} {
		a, _ := LookupAPI(k)
		if err := r.Register(k, a.MinVersion, a.MaxVersion); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Register(0, 3, 13); err != nil { // narrow Produce to v3+
		t.Fatal(err)
	}
	for _, bad := range [][3]int16{{0, 3, 14}, {7, 0, 0}, {1, 5, 4}, {1, -1, 4}} {
		if err := r.Register(bad[0], bad[1], bad[2]); !errors.Is(err, ErrNotInCodec) {
			t.Fatalf("Register%v: got %v; want ErrNotInCodec", bad, err)
		}
	}
	got := r.AppendAPIKeys(nil)
	want := []ApiVersionsResponseApiKey{{0, 3, 13}, {3, 0, 13}, {18, 0, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AppendAPIKeys: got %+v; want %+v", got, want)
	}
	for _, c := range []struct {
		key, v int16
		want   bool
	}{{0, 2, false}, {0, 3, true}, {0, 13, true}, {1, 4, false}, {18, 5, true}, {18, 6, false}} {
		if got := r.Supports(c.key, c.v); got != c.want {
			t.Fatalf("Supports(%d, %d) = %v; want %v", c.key, c.v, got, c.want)
		}
	}
}

// TestErrorTable checks codes, names and retriability against kerr.
func TestErrorTable(t *testing.T) {
	renamed := map[string]string{"NOT_LEADER_OR_FOLLOWER": "NOT_LEADER_FOR_PARTITION"}
	seen := map[ErrorCode]bool{}
	for _, e := range Errors() {
		if seen[e.Code] {
			t.Fatalf("code %d twice", e.Code)
		}
		seen[e.Code] = true
		if e.Code == None {
			continue
		}
		k := kerr.ErrorForCode(int16(e.Code)).(*kerr.Error)
		name := e.Name
		if old, ok := renamed[name]; ok {
			name = old
		}
		if k.Message != name || k.Retriable != e.Retriable {
			t.Fatalf("code %d: ours %s retriable=%v; kerr %s retriable=%v", e.Code, e.Name, e.Retriable, k.Message, k.Retriable)
		}
		if e.Code.String() != e.Name {
			t.Fatalf("code %d String() = %s", e.Code, e.Code.String())
		}
	}
	if got := ErrorCode(9999).String(); got != "ERROR_"+strconv.Itoa(9999) {
		t.Fatalf("unknown code: %s", got)
	}
}

// TestProduceDecodeReuse: decoding into the same struct again allocates
// nothing.
func TestProduceDecodeReuse(t *testing.T) {
	body := produceBody(16<<10, 9)
	var p ProduceRequest
	if err := p.ReadFrom(body, 9); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = p.ReadFrom(body, 9) }); allocs != 0 {
		t.Fatalf("%v allocations per decode into a reused struct", allocs)
	}
	if len(p.Topics) != 1 || len(p.Topics[0].Partitions) != 1 || len(p.Topics[0].Partitions[0].Records) != 16<<10 {
		t.Fatalf("decoded %+v", p)
	}
}

// produceBody returns a ProduceRequest body with one topic, one partition
// and recordBytes of (opaque) records.
func produceBody(recordBytes int, version int16) []byte {
	p := ProduceRequest{Acks: -1, TimeoutMs: 30000, Topics: []ProduceRequestTopic{{
		Name:       []byte("orders"),
		Partitions: []ProduceRequestTopicPartition{{Index: 3, Records: bytes.Repeat([]byte{1}, recordBytes)}},
	}}}
	return p.AppendTo(nil, version)
}

func TestLookupAPI(t *testing.T) {
	for _, k := range []int16{-1, 4, 7, 61, 127, 128, 1000, 32767} {
		if a, ok := LookupAPI(k); ok {
			t.Fatalf("LookupAPI(%d) = %+v; want none", k, a)
		}
	}
	for _, a := range APIs() {
		if got, ok := LookupAPI(a.Key); !ok || got != a {
			t.Fatalf("LookupAPI(%d) = %+v, %v; want %+v", a.Key, got, ok, a)
		}
	}
	if n := len(APIs()); n != 27 {
		t.Fatalf("%d APIs; issue 7 lists 27", n)
	}
}
