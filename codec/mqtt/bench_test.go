package mqtt

import (
	"bytes"
	"testing"
)

// benchPublish is a PUBLISH of version v with a payload of n bytes; the
// 5.0 one carries the properties a request/response client sends.
func benchPublish(v Version, n int) *Publish {
	p := &Publish{Topic: []byte("sensors/building-7/floor-3/temperature"), QoS: 1, PacketID: 42,
		Payload: bytes.Repeat([]byte{'x'}, n)}
	if v == V5 {
		p.Props.SetUint(PropMessageExpiry, 3600)
		p.Props.SetBytes(PropContentType, []byte("application/json"))
		p.Props.SetBytes(PropResponseTopic, []byte("replies/client-17"))
		p.Props.SetBytes(PropCorrelationData, []byte("0123456789abcdef"))
		p.Props.User = []UserProperty{user("trace-id", "4bf92f3577b34da6"), user("tenant", "acme")}
	}
	return p
}

var benchCases = []struct {
	name string
	v    Version
	n    int
}{
	{"v3.1.1/64B", V311, 64},
	{"v3.1.1/1KiB", V311, 1024},
	{"v5/64B", V5, 64},
	{"v5/1KiB", V5, 1024},
}

// BenchmarkPublishDecode decodes one PUBLISH frame through Decoder.Decode.
// baseline copies the same frame once: the least a copying decoder pays.
func BenchmarkPublishDecode(b *testing.B) {
	for _, c := range benchCases {
		frame := AppendPublish(nil, c.v, benchPublish(c.v, c.n))
		b.Run(c.name+"/baseline-copy", func(b *testing.B) {
			dst := make([]byte, len(frame))
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, frame)
			}
		})
		b.Run(c.name, func(b *testing.B) {
			d := &Decoder{Version: c.v}
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := d.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPublishEncode appends one PUBLISH into a reused buffer.
func BenchmarkPublishEncode(b *testing.B) {
	for _, c := range benchCases {
		p := benchPublish(c.v, c.n)
		frame := AppendPublish(nil, c.v, p)
		b.Run(c.name+"/baseline-copy", func(b *testing.B) {
			dst := make([]byte, 0, len(frame))
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				dst = append(dst[:0], frame...)
			}
		})
		b.Run(c.name, func(b *testing.B) {
			dst := make([]byte, 0, len(frame))
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendPublish(dst[:0], c.v, p)
			}
		})
	}
}

func benchSubscribe(v Version) *Subscribe {
	s := &Subscribe{PacketID: 7, Subs: []Subscription{
		{Filter: []byte("sensors/+/floor-3/#"), QoS: 1},
		{Filter: []byte("alerts/building-7/+"), QoS: 2},
		{Filter: []byte("config/client-17"), QoS: 0},
		{Filter: []byte("$share/workers/jobs/#"), QoS: 1},
	}}
	if v == V5 {
		s.Props.SubIDs = []uint32{12345}
		s.Props.User = []UserProperty{user("tenant", "acme")}
		s.Subs[0].RetainHandling = 1
		s.Subs[2].NoLocal = true
	}
	return s
}

// BenchmarkSubscribe decodes and encodes a SUBSCRIBE with four filters.
func BenchmarkSubscribe(b *testing.B) {
	for _, v := range []Version{V311, V5} {
		s := benchSubscribe(v)
		frame := AppendSubscribe(nil, v, s)
		b.Run("decode/v"+v.String(), func(b *testing.B) {
			d := &Decoder{Version: v}
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := d.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("encode/v"+v.String(), func(b *testing.B) {
			dst := make([]byte, 0, len(frame))
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendSubscribe(dst[:0], v, s)
			}
		})
	}
}

// TestZeroAllocs pins the steady-state promise: decoding PUBLISH and
// SUBSCRIBE into a reused Decoder and encoding into a reused buffer
// allocate nothing, with and without 5.0 properties.
func TestZeroAllocs(t *testing.T) {
	for _, c := range benchCases {
		p := benchPublish(c.v, c.n)
		frame := AppendPublish(nil, c.v, p)
		s := benchSubscribe(c.v)
		sub := AppendSubscribe(nil, c.v, s)
		d := &Decoder{Version: c.v}
		dst := make([]byte, 0, 2048)
		f := func(what string, fn func()) {
			t.Helper()
			fn() // warm the reused slices
			if n := testing.AllocsPerRun(100, fn); n != 0 {
				t.Errorf("%s %s: %.1f allocs/op; want 0", c.name, what, n)
			}
		}
		f("PUBLISH decode", func() { _, _, _ = d.Decode(frame) })
		f("PUBLISH encode", func() { dst = AppendPublish(dst[:0], c.v, p) })
		f("SUBSCRIBE decode", func() { _, _, _ = d.Decode(sub) })
		f("SUBSCRIBE encode", func() { dst = AppendSubscribe(dst[:0], c.v, s) })
		f("PUBACK encode", func() { dst = AppendAck(dst[:0], c.v, &Ack{Type: PUBACK, PacketID: 1}) })
	}
}
