package client

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MQTT session expiry and delayed wills are scheduled in two tables of the mqtt group; the
// broker holding a session writes its due entries atomically with its session record, the
// controller on the metadata leader hands each entry to a live broker when it falls due.
const (
	// TableDue (frozen): key DueKey(kind, client id), value a Due (AppendDue). Written by the
	// broker that holds the session (its Owner), deleted by the controller when it fires.
	TableDue = "d"
	// TableFired (frozen): key FiredKey(node, kind, client id), value the fired Due's At
	// (int64 BE). Written by the controller, deleted by broker node once it acted on the entry.
	TableFired = "f"
)

// Kinds of due entry (the first byte of a TableDue key).
const (
	DueExpiry byte = 'e' // the session ends (its will, if still pending, is published)
	DueWill   byte = 'w' // the session's delayed will is published
)

// Due is one due entry (frozen value, 24 bytes):
//
//	at     int64 BE  unix ms it falls due; 0: not running yet (see lost)
//	owner  uint64 BE node id of the broker holding the session
//	lost   int64 BE  with at 0: ms after the owner is marked down that it falls due; -1 never
//
// An entry with at 0 belongs to a session whose connection is attached (or that never
// expires): nothing is due while its broker lives; when the broker is marked down, the
// controller starts the clock (at = now + lost).
type Due struct {
	At    int64
	Owner uint64
	Lost  int64
}

// DueLen is the size of an encoded Due.
const DueLen = 24

// ErrBadDue reports a due or fired entry that does not decode.
var ErrBadDue = errors.New("meta: bad MQTT due entry")

// AppendDue appends d's encoding.
func AppendDue(dst []byte, d Due) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(d.At))
	dst = binary.BigEndian.AppendUint64(dst, d.Owner)
	return binary.BigEndian.AppendUint64(dst, uint64(d.Lost))
}

// ParseDue decodes a TableDue value.
func ParseDue(v []byte) (Due, error) {
	if len(v) != DueLen {
		return Due{}, fmt.Errorf("%w: value of %d bytes, want %d", ErrBadDue, len(v), DueLen)
	}
	return Due{At: int64(binary.BigEndian.Uint64(v)), Owner: binary.BigEndian.Uint64(v[8:]),
		Lost: int64(binary.BigEndian.Uint64(v[16:]))}, nil
}

// DueKey is the TableDue key of kind for clientID.
func DueKey(kind byte, clientID string) []byte {
	return append([]byte{kind}, clientID...)
}

// ParseDueKey splits a TableDue key.
func ParseDueKey(k []byte) (kind byte, clientID string, err error) {
	if len(k) < 1 || k[0] != DueExpiry && k[0] != DueWill {
		return 0, "", fmt.Errorf("%w: key %q", ErrBadDue, k)
	}
	return k[0], string(k[1:]), nil
}

// FiredKey is the TableFired key of a due entry handed to broker node: node(8, BE) | DueKey.
func FiredKey(node uint64, kind byte, clientID string) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(clientID)), node), DueKey(kind, clientID)...)
}

// FiredPrefix is the TableFired prefix of the entries handed to node.
func FiredPrefix(node uint64) []byte { return binary.BigEndian.AppendUint64(nil, node) }

// ParseFired splits a TableFired entry.
func ParseFired(k, v []byte) (node uint64, kind byte, clientID string, at int64, err error) {
	if len(k) < 9 || len(v) != 8 {
		return 0, 0, "", 0, fmt.Errorf("%w: fired key %q value of %d bytes", ErrBadDue, k, len(v))
	}
	kind, clientID, err = ParseDueKey(k[8:])
	return binary.BigEndian.Uint64(k), kind, clientID, int64(binary.BigEndian.Uint64(v)), err
}

// AppendFired appends a TableFired value: the fired entry's due time.
func AppendFired(dst []byte, at int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(at)) }
