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
	// TableOwner (frozen): key client id, value AppendOwner: the broker that owns the session,
	// written by a broker's CONNECT (it takes the session over) and compared by its later
	// writes of the session, so a broker that lost the session cannot overwrite it.
	TableOwner = "o"
)

// Kinds of due entry (the first byte of a TableDue key), and of notice.
const (
	DueExpiry byte = 'e' // the session ends (its will, if still pending, is published)
	DueWill   byte = 'w' // the session's delayed will is published
	// DueRelease is only ever a TableFired entry, written by a broker that took a session
	// over from another (a CONNECT there) for that other broker: give the session up unless
	// TableOwner names you again. Its value is when the takeover was saved (unix ms).
	DueRelease byte = 'r'
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
	if len(k) < 1 || k[0] != DueExpiry && k[0] != DueWill && k[0] != DueRelease {
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

// AppendOwner appends a TableOwner value (frozen, 16 bytes): node id (uint64 BE) | ms of the
// CONNECT that made it the owner (int64 BE). Ownership goes to the later CONNECT (ties: the
// higher node id).
func AppendOwner(dst []byte, node uint64, since int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(dst, node), uint64(since))
}

// ParseOwner decodes a TableOwner value.
func ParseOwner(v []byte) (node uint64, since int64, err error) {
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("%w: owner value of %d bytes, want 16", ErrBadDue, len(v))
	}
	return binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:])), nil
}

// AppendFired appends a TableFired value: the fired entry's due time.
func AppendFired(dst []byte, at int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(at)) }
