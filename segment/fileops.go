package segment

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// fileOps is the write path's view of the file system. The engine uses
// osOps; tests inject faults (ENOSPC, failed fsync) by wrapping it.
type fileOps interface {
	writeAt(f *os.File, b []byte, off int64) (int, error)
	// sync makes the file's data durable (fdatasync).
	sync(f *os.File) error
	// allocate reserves [off, off+n) without changing the file size.
	allocate(f *os.File, off, n int64) error
	truncate(f *os.File, size int64) error
}

type osOps struct{}

func (osOps) writeAt(f *os.File, b []byte, off int64) (int, error) { return f.WriteAt(b, off) }

func (osOps) sync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

func (osOps) allocate(f *os.File, off, n int64) error {
	for {
		err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
		if err != unix.EINTR {
			return err
		}
	}
}

func (osOps) truncate(f *os.File, size int64) error { return f.Truncate(size) }

// errNoPrealloc reports that the file system cannot preallocate; the engine
// then writes without it.
func errNoPrealloc(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)
}

// syncDir makes directory entries (created, renamed, removed files) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// mmap maps n bytes of f read-only and shared. Bytes past the end of the
// file must never be touched (SIGBUS): readers are bounded by the segment's
// visible length, which never exceeds the file size.
func mmap(f *os.File, n int64) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, int(n), unix.PROT_READ, unix.MAP_SHARED)
}

func munmap(b []byte) error { return unix.Munmap(b) }
