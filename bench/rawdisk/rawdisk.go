// Package rawdisk is the storage baseline: what the disk does for a plain
// file written with pwrite(2) and made durable with fdatasync(2), in
// batches of a given size, with nothing else (no framing, no CRC, no
// index, no queue). Storage benchmarks (segment, shard, later the Kafka
// server) run it in the same process as the engine they measure, with the
// same batch sizes, and report the engine's throughput as a ratio of it:
// machines are noisy, ratios measured in one run are not.
//
// A File writes appending batches; when it reaches Wrap bytes it is cut to
// zero and written again, so long runs stay bounded on disk (the engine
// under test rolls and deletes segments for the same reason; a benchmark
// of the page-cache path bounds both to the same footprint).
//
// Two yardsticks: File is one writer, pwrite + optional fdatasync per batch
// of a fixed size (what segment/ measures against); Writer takes appends
// from many goroutines, fsynced serially or group-committed (what an engine
// with many producers must match, used by shard/).
package rawdisk

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WrapBytes is the default size at which a File starts over.
const WrapBytes = 1 << 30

// File is one baseline file. It is not safe for concurrent use.
type File struct {
	Wrap  int64 // start over at this size; WrapBytes unless set
	f     *os.File
	batch []byte
	pos   int64
	sync  bool
}

// Create creates a baseline file in dir that writes batches of batchBytes
// and, if sync, fdatasyncs after each one.
func Create(dir string, batchBytes int, sync bool) (*File, error) {
	f, err := os.CreateTemp(dir, "rawdisk-*.dat")
	if err != nil {
		return nil, fmt.Errorf("rawdisk: %w", err)
	}
	b := make([]byte, batchBytes)
	for i := range b {
		b[i] = byte(i*7 + 1) // not zeros: some file systems treat zero pages specially
	}
	return &File{Wrap: WrapBytes, f: f, batch: b, sync: sync}, nil
}

// WriteBatch appends one batch and, for a sync File, waits for fdatasync.
func (f *File) WriteBatch() error {
	if f.pos+int64(len(f.batch)) > f.Wrap {
		if err := f.f.Truncate(0); err != nil {
			return fmt.Errorf("rawdisk: %w", err)
		}
		f.pos = 0
	}
	if _, err := f.f.WriteAt(f.batch, f.pos); err != nil {
		return fmt.Errorf("rawdisk: write %s: %w", f.f.Name(), err)
	}
	f.pos += int64(len(f.batch))
	if f.sync {
		if err := unix.Fdatasync(int(f.f.Fd())); err != nil {
			return fmt.Errorf("rawdisk: fdatasync %s: %w", f.f.Name(), err)
		}
	}
	return nil
}

// Close closes and removes the file.
func (f *File) Close() error {
	name := f.f.Name()
	err := f.f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// Warm writes n bytes to a temporary file in dir and removes it, so the
// page cache has n bytes of recently freed pages for what runs next. On a
// virtual machine the first touch of guest memory costs far more than
// reusing a freed page, so a page-cache benchmark that starts cold measures
// the hypervisor; a long-running broker reuses its pages. Benchmarks warm
// both sides, engine and baseline, the same way before timing.
func Warm(dir string, n int64) error {
	f, err := Create(dir, 1<<20, false)
	if err != nil {
		return err
	}
	f.Wrap = n + int64(len(f.batch))
	for written := int64(0); written < n; written += int64(len(f.batch)) {
		if err := f.WriteBatch(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// ReadFile reads the file at path front to back in chunks of chunkBytes
// into one reused buffer (a page-cache read baseline) and returns the
// bytes read.
func ReadFile(path string, chunkBytes int) (int64, error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return 0, fmt.Errorf("rawdisk: %w", err)
	}
	defer f.Close()
	buf := make([]byte, chunkBytes)
	var n int64
	for {
		k, err := f.ReadAt(buf, n)
		n += int64(k)
		switch {
		case err == io.EOF || err == nil && k == 0:
			return n, nil
		case err != nil:
			return n, fmt.Errorf("rawdisk: read %s: %w", path, err)
		}
	}
}
