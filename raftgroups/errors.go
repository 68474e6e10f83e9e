package raftgroups

import "errors"

// GroupID names one of the three raft groups; it is also the group's byte in
// every pebble key and on the wire, so the values are frozen.
type GroupID uint8

// The groups, in creation order.
const (
	GroupMetadata GroupID = 1
	GroupOffset   GroupID = 2
	GroupMQTT     GroupID = 3
)

// Groups lists the groups in the order the Manager creates them.
var Groups = [...]GroupID{GroupMetadata, GroupOffset, GroupMQTT}

func (g GroupID) String() string {
	switch g {
	case GroupMetadata:
		return "metadata"
	case GroupOffset:
		return "offset"
	case GroupMQTT:
		return "mqtt"
	}
	return "group?"
}

// Sentinel errors; callers branch with errors.Is.
var (
	// ErrTimeout: a proposal or read did not complete within its timeout
	// (no quorum, no leader, or the proposal was lost in a leader change).
	ErrTimeout = errors.New("timed out")
	// ErrBusy: the group's bounded proposal or read queue is full.
	ErrBusy = errors.New("queue full")
	// ErrTooLarge: a command exceeds Config.MaxCommandBytes.
	ErrTooLarge = errors.New("too large")
	// ErrStopped: the group is stopped (Manager.Stop or a fatal storage error).
	ErrStopped = errors.New("stopped")
	// ErrExists: a create found the key already present.
	ErrExists = errors.New("already exists")
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a transaction's compare failed; nothing changed.
	ErrConflict = errors.New("compare failed")
	// ErrCorrupt: an entry, command or snapshot image does not decode.
	ErrCorrupt = errors.New("corrupt encoding")
	// ErrUnknownGroup: a message names a group this node does not run.
	ErrUnknownGroup = errors.New("unknown group")
)
