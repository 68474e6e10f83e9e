package netpoll

import (
	"bytes"
	"testing"
)

func TestClassOf(t *testing.T) {
	f := func(n, want int) {
		t.Helper()
		if got := classOf(n); got != want {
			t.Errorf("classOf(%d) = %d; want %d", n, got, want)
		}
	}
	f(0, 0)
	f(1, 0)
	f(512, 0)
	f(513, 1)
	f(1024, 1)
	f(1025, 2)
	f(64<<10, 7)
	f(1<<20, 11)
	f(1<<20+1, 12) // no class: allocated and left to the GC
}

func TestGetBuffer(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 4000, 64 << 10, 1 << 20, 1<<20 + 1} {
		b := getBuffer(n)
		if len(b.B) != 0 || cap(b.B) < n {
			t.Errorf("getBuffer(%d): len %d cap %d; want empty with cap >= %d", n, len(b.B), cap(b.B), n)
		}
		if c := classOf(n); c < numClasses && cap(b.B) != minClassBytes<<c {
			t.Errorf("getBuffer(%d): cap %d; want its class size %d", n, cap(b.B), minClassBytes<<c)
		}
		b.B = append(b.B, 1)
		putBuffer(b)
	}
	putBuffer(&buffer{B: make([]byte, 0, 1000)}) // not a class size: dropped, not pooled
	if b := getBuffer(600); cap(b.B) != 1024 {
		t.Errorf("getBuffer(600) after putting a 1000-byte buffer: cap %d; want 1024", cap(b.B))
	}
}

func TestAppendBuffer(t *testing.T) {
	var b *buffer
	var want []byte
	for i := range 40 {
		p := bytes.Repeat([]byte{byte(i)}, 100*i)
		b = appendBuffer(b, p)
		want = append(want, p...)
		if !bytes.Equal(b.B, want) {
			t.Fatalf("after %d appends: content differs", i+1)
		}
		if c := classOf(cap(b.B)); cap(b.B) != minClassBytes<<c {
			t.Fatalf("after %d appends: cap %d is not a class size", i+1, cap(b.B))
		}
	}
}

// BenchmarkAppendBufferLargeFrame keeps a 4 MiB frame arriving in 64 KiB reads, as a big Kafka produce
// does. Growth past the largest pool class must be geometric: growing to exactly the needed size copies
// the whole frame on every read (quadratic). Baseline: one copy of the frame.
func BenchmarkAppendBufferLargeFrame(b *testing.B) {
	const frame, read = 4 << 20, 64 << 10
	chunk := make([]byte, read)
	b.Run("appendBuffer", func(b *testing.B) {
		b.SetBytes(frame)
		b.ReportAllocs()
		for b.Loop() {
			var buf *buffer
			for n := 0; n < frame; n += read {
				buf = appendBuffer(buf, chunk)
			}
			putBuffer(buf)
		}
	})
	b.Run("baseline=copy", func(b *testing.B) {
		dst := make([]byte, frame)
		b.SetBytes(frame)
		b.ReportAllocs()
		for b.Loop() {
			for n := 0; n < frame; n += read {
				copy(dst[n:], chunk)
			}
		}
	})
}
