package topic

import (
	"bytes"
	"errors"

	"robustmq/codec/mqtt"
)

// Filter errors.
var (
	ErrFilterHash   = errors.New("topic: '#' is not alone in the last level")          // [MQTT-4.7.1-1]
	ErrFilterPlus   = errors.New("topic: '+' is not alone in its level")               // [MQTT-4.7.1-2]
	ErrShareName    = errors.New("topic: bad $share group name")                       // [MQTT-4.8.2-1]
	ErrShareFilter  = errors.New("topic: $share/{group} is not followed by /{filter}") // [MQTT-4.8.2-2]
	ErrGroupTwice   = errors.New("topic: group given both in the filter and as a queue group")
	ErrExclusiveMix = errors.New("topic: $exclusive/ cannot be shared or a queue group")
	ErrDialect      = errors.New("topic: unknown dialect")
)

// Dialect is the protocol a subscription comes from. It decides what a
// trailing multi-level wildcard means (doc.go, "Wildcards") and whether the
// "$share/" and "$exclusive/" prefixes are parsed.
type Dialect uint8

const (
	// MQTT: '#' also matches the parent level ("a/#" matches "a"
	// [MQTT-4.7.1-2]); "$share/{group}/" and "$exclusive/" prefixes apply.
	MQTT Dialect = 1
	// NATS (and every protocol with NATS-style subjects): '>' matches one or
	// more levels, never the parent; no prefixes ("$share.x" is a literal).
	NATS Dialect = 2
)

var (
	sharePrefix     = []byte("$share/")
	exclusivePrefix = []byte("$exclusive/")
)

// Filter is a parsed, owned subscription filter: the key of a subscription
// in an Index. The session keeps its Filters to Unsubscribe and RemoveAll.
type Filter struct {
	path      string // canonical filter without the $share/$exclusive prefix
	group     string // shared subscription or queue group name; "" for none
	dialect   Dialect
	exclusive bool
	wild      bool // has a '+' or '#' level
}

// ParseFilter parses a canonical filter (FromMQTT or FilterFromNATS output)
// of dialect d. group is a NATS queue group name (nil for none); an MQTT
// filter names its group with "$share/{group}/{filter}" instead. The
// result owns one copy of the bytes, so b may be reused at once.
func ParseFilter(b []byte, d Dialect, group []byte) (Filter, error) {
	if d != MQTT && d != NATS {
		return Filter{}, ErrDialect
	}
	f := Filter{dialect: d}
	if d == MQTT {
		switch {
		case bytes.HasPrefix(b, sharePrefix):
			if group != nil {
				return Filter{}, ErrGroupTwice
			}
			rest := b[len(sharePrefix):]
			i := bytes.IndexByte(rest, '/')
			if i < 0 {
				return Filter{}, ErrShareFilter
			}
			group, b = rest[:i], rest[i+1:]
			if len(b) == 0 {
				return Filter{}, ErrShareFilter
			}
		case bytes.HasPrefix(b, exclusivePrefix):
			if group != nil {
				return Filter{}, ErrExclusiveMix
			}
			b = b[len(exclusivePrefix):]
			if bytes.HasPrefix(b, sharePrefix) {
				return Filter{}, ErrExclusiveMix
			}
			f.exclusive = true
		}
	}
	if group != nil && (mqtt.ValidShareName(group) != nil || bytes.IndexByte(group, 0) >= 0) {
		return Filter{}, ErrShareName
	}
	if err := validFilter(b); err != nil {
		return Filter{}, err
	}
	f.path = string(b)
	f.group = string(group)
	f.wild = bytes.IndexByte(b, '+') >= 0 || bytes.IndexByte(b, '#') >= 0
	return f, nil
}

func validFilter(b []byte) error {
	if len(b) == 0 {
		return ErrEmpty
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return ErrNUL
	}
	// The grammar is MQTT's (the canonical form is the MQTT form) and codec/mqtt owns it; this package
	// names the errors in its own words.
	switch mqtt.ValidWildcards(b) {
	case mqtt.ErrFilterHash:
		return ErrFilterHash
	case mqtt.ErrFilterPlus:
		return ErrFilterPlus
	}
	return nil
}

// Path is the canonical filter without prefixes, e.g. "a/+/#".
func (f Filter) Path() string { return f.path }

// Group is the shared subscription or queue group name, "" for none.
func (f Filter) Group() string { return f.group }

// Dialect is the protocol the filter was parsed for.
func (f Filter) Dialect() Dialect { return f.dialect }

// Exclusive reports a "$exclusive/" filter.
func (f Filter) Exclusive() bool { return f.exclusive }

// String is the filter as an MQTT client would write it.
func (f Filter) String() string {
	switch {
	case f.group != "":
		return "$share/" + f.group + "/" + f.path
	case f.exclusive:
		return "$exclusive/" + f.path
	}
	return f.path
}

// kind is the last level's multi-level wildcard kind, which selects the
// leaf of the final node (kindExact when the filter does not end in '#').
func (f Filter) kind() leafKind {
	if len(f.path) == 0 || f.path[len(f.path)-1] != '#' {
		return kindExact
	}
	if f.dialect == MQTT {
		return kindMultiParent
	}
	return kindMulti
}
