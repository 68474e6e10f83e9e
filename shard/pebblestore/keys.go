package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"robustmq/shard"
)

// Key kinds; see the package doc.
const (
	kindName   = 'n'
	kindState  = 's'
	kindRecord = 'r'
	kindKey    = 'k'
	kindTag    = 't'
	kindMark   = 'm'
)

const formatVersion = 0x01

func nameKey(name string) []byte { return append([]byte{kindName}, name...) }

// idKey returns kind id: the prefix of every per-shard key of that kind.
func idKey(dst []byte, kind byte, id uint64) []byte {
	dst = append(dst, kind)
	return binary.BigEndian.AppendUint64(dst, id)
}

// recordKey returns 'r' id off.
func recordKey(dst []byte, id uint64, off int64) []byte {
	return binary.BigEndian.AppendUint64(idKey(dst, kindRecord, id), uint64(off))
}

// indexPrefix returns kind id uvarint(len(b)) b: the range of one key's or
// tag's index entries.
func indexPrefix(dst []byte, kind byte, id uint64, b []byte) []byte {
	dst = binary.AppendUvarint(idKey(dst, kind, id), uint64(len(b)))
	return append(dst, b...)
}

func flip(x int64) uint64 { return uint64(x) ^ (1 << 63) }

// markKey returns 'm' id flip(maxBefore) off.
func markKey(dst []byte, id uint64, maxBefore, off int64) []byte {
	dst = binary.BigEndian.AppendUint64(idKey(dst, kindMark, id), flip(maxBefore))
	return binary.BigEndian.AppendUint64(dst, uint64(off))
}

// tailOffset returns the offset in the last 8 bytes of an index, record or
// mark key.
func tailOffset(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[len(k)-8:])) }

// successor returns the smallest key greater than every key with prefix p.
func successor(p []byte) []byte {
	s := append([]byte{}, p...)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

var errCorrupt = errors.Join(shard.ErrCorrupt, errors.New("pebblestore: bad metadata"))

// meta is the value of a name key.
type meta struct {
	id  uint64
	cfg shard.ShardConfig
}

func encodeMeta(m meta) []byte {
	b := []byte{formatVersion}
	b = binary.BigEndian.AppendUint64(b, m.id)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.cfg.RetentionBytes))
	b = binary.LittleEndian.AppendUint64(b, uint64(m.cfg.RetentionMs))
	return binary.LittleEndian.AppendUint64(b, uint64(m.cfg.SegmentBytes))
}

func decodeMeta(name string, b []byte) (meta, error) {
	if len(b) != 33 || b[0] != formatVersion {
		return meta{}, fmt.Errorf("%w: shard %q: name value of %d bytes", errCorrupt, name, len(b))
	}
	return meta{id: binary.BigEndian.Uint64(b[1:]), cfg: shard.ShardConfig{
		Name:           name,
		Engine:         shard.EnginePebble,
		RetentionBytes: int64(binary.LittleEndian.Uint64(b[9:])),
		RetentionMs:    int64(binary.LittleEndian.Uint64(b[17:])),
		SegmentBytes:   int64(binary.LittleEndian.Uint64(b[25:])),
	}}, nil
}

// state is the value of a state key; see the package doc.
type state struct {
	start     int64
	bytes     int64
	maxTs     int64
	sinceMark int64
}

const stateLen = 33

func appendState(dst []byte, s *state) []byte {
	dst = append(dst, formatVersion)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.start))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.bytes))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.maxTs))
	return binary.LittleEndian.AppendUint64(dst, uint64(s.sinceMark))
}

func decodeState(name string, b []byte) (state, error) {
	if len(b) != stateLen || b[0] != formatVersion {
		return state{}, fmt.Errorf("%w: shard %q: state value of %d bytes", errCorrupt, name, len(b))
	}
	return state{
		start:     int64(binary.LittleEndian.Uint64(b[1:])),
		bytes:     int64(binary.LittleEndian.Uint64(b[9:])),
		maxTs:     int64(binary.LittleEndian.Uint64(b[17:])),
		sinceMark: int64(binary.LittleEndian.Uint64(b[25:])),
	}, nil
}
