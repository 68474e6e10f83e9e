package segment

import (
	"errors"
	"fmt"

	"robustmq/shard"
)

// Sentinel errors of this package. Each wraps the shard sentinel callers
// branch on, where one exists.
var (
	// ErrCorrupt reports a record or batch that fails its CRC or structure
	// check anywhere but the torn tail of the active segment. It wraps
	// shard.ErrCorrupt.
	ErrCorrupt = fmt.Errorf("%w: segment", shard.ErrCorrupt)
	// ErrDiskFull reports a write or preallocation that found no space. The
	// batch is not acknowledged; the shard stays readable and accepts new
	// appends once space returns.
	ErrDiskFull = errors.New("segment: disk full")
	// ErrFailed reports a shard whose fsync failed once. The page cache can
	// no longer be trusted, so the shard refuses appends until the engine is
	// reopened (which recovers from what is really on disk).
	ErrFailed = errors.New("segment: shard failed after an fsync error")
	// ErrTruncated fails appends that were queued when TruncateTo removed the
	// offsets they were given.
	ErrTruncated = errors.New("segment: append discarded by TruncateTo")
)

func corruptf(msg string) error { return fmt.Errorf("%w: %s", ErrCorrupt, msg) }
