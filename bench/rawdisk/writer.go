package rawdisk

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Writer appends to one file from many goroutines: AppendSerial is write + fsync per call with callers
// serialized (an engine without group commit); Append is group commit, where one caller fsyncs for everyone
// whose write landed before its fsync began (the ceiling for an engine with group commit); Write is the
// page-cache baseline. It is a measuring tool: an fsync error is returned, not treated as fatal.
type Writer struct {
	f       *os.File
	mu      sync.Mutex
	cond    sync.Cond // signalled when synced moves; uses mu
	seq     uint64    // writes done; guarded by mu
	synced  uint64    // writes known durable; guarded by mu
	syncing bool      // a leader is in fsync; guarded by mu
	err     error     // first fsync error, given to every later caller; guarded by mu
}

// NewWriter creates (truncating) the file name in dir, for many concurrent producers.
func NewWriter(dir, name string) (*Writer, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("rawdisk: %w", err)
	}
	w := &Writer{f: f}
	w.cond.L = &w.mu
	return w, nil
}

// AppendSerial writes p and fsyncs before returning, holding the lock
// throughout.
func (w *Writer) AppendSerial(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(p); err != nil {
		return fmt.Errorf("rawdisk: write: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("rawdisk: fsync: %w", err)
	}
	return nil
}

// Append writes p and returns once an fsync that started after the write
// has finished (group commit).
func (w *Writer) Append(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(p); err != nil {
		return fmt.Errorf("rawdisk: write: %w", err)
	}
	w.seq++
	mine := w.seq
	for w.synced < mine && w.err == nil {
		if w.syncing {
			w.cond.Wait()
			continue
		}
		w.syncing = true
		target := w.seq
		w.mu.Unlock()
		err := w.f.Sync()
		w.mu.Lock()
		w.syncing = false
		if err != nil {
			w.err = fmt.Errorf("rawdisk: fsync: %w", err)
		}
		w.synced = target
		w.cond.Broadcast()
	}
	return w.err
}

// Write writes p without fsync: the page-cache baseline for DurabilityNone.
func (w *Writer) Write(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(p); err != nil {
		return fmt.Errorf("rawdisk: write: %w", err)
	}
	return nil
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }
