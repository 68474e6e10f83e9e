package kafka

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// FuzzRequest frames, header-decodes and body-decodes every request the
// input holds, fed in two halves the way netpoll presents a split read.
// Errors are fine; panics are not, and a request that decodes must
// re-encode to bytes that decode and re-encode identically.
func FuzzRequest(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, a := range APIs() {
		f.Add(kmsgFrame(rng, a.Key, a.MinVersion, 1))
		f.Add(kmsgFrame(rng, a.Key, a.MaxVersion, 2))
	}
	f.Add([]byte{0, 0, 0, 13, 0, 18, 0, 3, 0, 0, 0, 9, 0, 2, 'a', 'b', 0, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		half := len(in) / 2
		pending := append([]byte(nil), in[:half]...)
		for _, next := range [][]byte{nil, in[half:]} {
			pending = append(pending, next...)
			n, err := consumeFrames(t, pending)
			if err != nil {
				return // the server closes the connection
			}
			pending = pending[n:]
		}
	})
}

// consumeFrames decodes every whole frame at the start of in and returns
// the bytes consumed.
func consumeFrames(t *testing.T, in []byte) (int, error) {
	off := 0
	for {
		frame, n, err := Frame(in[off:], 1<<20)
		if err != nil || n == 0 {
			return off, err
		}
		off += n
		h, body, err := ReadRequestHeader(frame)
		if err != nil {
			continue // answered with an error or a close by the server
		}
		m := NewRequest(h.APIKey)
		if m.ReadFrom(body, h.APIVersion) != nil {
			continue
		}
		enc := m.AppendTo(nil, h.APIVersion)
		again := NewRequest(h.APIKey)
		if err := again.ReadFrom(enc, h.APIVersion); err != nil {
			t.Fatalf("key %d v%d: re-encoded request does not decode: %v\n% x", h.APIKey, h.APIVersion, err, enc)
		}
		if enc2 := again.AppendTo(nil, h.APIVersion); !bytes.Equal(enc, enc2) {
			t.Fatalf("key %d v%d: encoding not stable\n% x\n% x", h.APIKey, h.APIVersion, enc, enc2)
		}
	}
}
