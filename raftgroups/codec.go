package raftgroups

import (
	"encoding/binary"
	"fmt"
)

// Entry batch format (doc.go): version | proposer(8) | count(4) | records.
const (
	batchVersion   = 0x01
	batchHeaderLen = 1 + 8 + 4
	// recordOverhead bounds a record's framing: id(8) + uvarint length.
	recordOverhead = 8 + binary.MaxVarintLen32
)

// appendBatchHeader starts a batch proposed by node proposer; the count is
// patched by setBatchCount once the records are in.
func appendBatchHeader(dst []byte, proposer uint64) []byte {
	dst = append(dst, batchVersion)
	dst = binary.BigEndian.AppendUint64(dst, proposer)
	return append(dst, 0, 0, 0, 0)
}

func setBatchCount(batch []byte, n uint32) { binary.BigEndian.PutUint32(batch[9:], n) }

func appendRecord(dst []byte, id uint64, cmd []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, id)
	dst = binary.AppendUvarint(dst, uint64(len(cmd)))
	return append(dst, cmd...)
}

// batchProposer returns the node that proposed batch, 0 if the header is
// damaged.
func batchProposer(batch []byte) uint64 {
	if len(batch) < batchHeaderLen || batch[0] != batchVersion {
		return 0
	}
	return binary.BigEndian.Uint64(batch[1:])
}

// decodeBatch calls fn for every record of batch, in order. cmd aliases
// batch. It returns the proposer and ErrCorrupt if the batch is malformed;
// records before the damage have been passed to fn (apply is still
// deterministic: every replica sees the same bytes).
func decodeBatch(batch []byte, fn func(id uint64, cmd []byte)) (uint64, error) {
	if len(batch) < batchHeaderLen || batch[0] != batchVersion {
		return 0, fmt.Errorf("raftgroups: entry batch header (%d bytes): %w", len(batch), ErrCorrupt)
	}
	proposer := binary.BigEndian.Uint64(batch[1:])
	n := binary.BigEndian.Uint32(batch[9:])
	b := batch[batchHeaderLen:]
	for i := uint32(0); i < n; i++ {
		if len(b) < 8 {
			return proposer, fmt.Errorf("raftgroups: entry batch record %d id: %w", i, ErrCorrupt)
		}
		id := binary.BigEndian.Uint64(b)
		l, k := binary.Uvarint(b[8:])
		if k <= 0 || l > uint64(len(b)-8-k) {
			return proposer, fmt.Errorf("raftgroups: entry batch record %d length: %w", i, ErrCorrupt)
		}
		start := 8 + k
		fn(id, b[start:start+int(l):start+int(l)])
		b = b[start+int(l):]
	}
	if len(b) != 0 {
		return proposer, fmt.Errorf("raftgroups: entry batch: %d trailing bytes: %w", len(b), ErrCorrupt)
	}
	return proposer, nil
}

// reader decodes the state machine's commands and images. After the first
// short or malformed read it stays failed and returns zero values, so callers
// check err once at the end (franz-go's kbin.Reader idea).
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if r.bad || len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns a length-prefixed byte string aliasing the input.
func (r *reader) bytes() []byte {
	l := r.uvarint()
	if r.bad || l > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:l:l]
	r.b = r.b[l:]
	return v
}

// done reports whether everything decoded and nothing is left over.
func (r *reader) done() bool { return !r.bad && len(r.b) == 0 }

func appendBytes(dst, v []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func appendString(dst []byte, v string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}
