package netpoll

import (
	"math/bits"
	"sync"
)

// Buffers are pooled by size class: class i holds buffers of exactly
// minClassBytes<<i bytes of capacity, from 512 B to 1 MiB. A buffer goes
// back only to the class of its exact capacity, so a pool never hands out a
// buffer smaller than its class; larger buffers are left to the GC.
//
// bytebufferpool was the first choice, but it grows buffers by append and
// drops those whose capacity passes its calibrated maximum, which allocated
// on every bulk write (BenchmarkEcho depth=16 size=16384: 327 KB/op).
const (
	minClassBits  = 9
	numClasses    = 12
	minClassBytes = 1 << minClassBits
	maxClassBytes = minClassBytes << (numClasses - 1)

	// maxChunkBytes caps one output buffer: a longer Write is handed to
	// the transport in chunks, so output never needs a buffer above it.
	maxChunkBytes = 64 << 10
)

// buffer is pooled by pointer so that Put does not allocate.
type buffer struct{ B []byte }

var classes [numClasses]sync.Pool

// classOf is the smallest class holding n bytes; numClasses or more means
// none does.
func classOf(n int) int {
	if n <= minClassBytes {
		return 0
	}
	return bits.Len(uint(n-1)) - minClassBits
}

// getBuffer returns an empty buffer with capacity at least n.
func getBuffer(n int) *buffer {
	c := classOf(n)
	if c >= numClasses {
		return &buffer{B: make([]byte, 0, n)}
	}
	if b, _ := classes[c].Get().(*buffer); b != nil {
		return b
	}
	return &buffer{B: make([]byte, 0, minClassBytes<<c)}
}

// putBuffer recycles b. REQUIRES: nothing references b or b.B any more.
func putBuffer(b *buffer) {
	c := classOf(cap(b.B))
	if c >= numClasses || cap(b.B) != minClassBytes<<c {
		return
	}
	b.B = b.B[:0]
	classes[c].Put(b)
}

// appendBuffer appends p to b (nil means none yet), moving to a bigger
// class when b is full, and returns the buffer now holding the bytes.
func appendBuffer(b *buffer, p []byte) *buffer {
	if b == nil {
		b = getBuffer(len(p))
	} else if cap(b.B)-len(b.B) < len(p) {
		// Grow at least geometrically: a frame far past the largest class arriving read by read would
		// otherwise be copied whole on every read (BenchmarkAppendBufferLargeFrame).
		nb := getBuffer(max(len(b.B)+len(p), 2*cap(b.B)))
		nb.B = append(nb.B, b.B...)
		putBuffer(b)
		b = nb
	}
	b.B = append(b.B, p...)
	return b
}
