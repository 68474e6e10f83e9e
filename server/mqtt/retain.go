package mqtt

import (
	"strings"
	"sync"

	"robustmq/server/message"
)

// RetainStore keeps the retained message of each topic (spec 3.3.1.3).
// Implementations are safe for concurrent use. The in-memory MemoryRetain
// is the default; with Options.State the server wraps it so that every
// change is also saved (durableRetain, persist.go).
type RetainStore interface {
	// Set replaces the retained message of m.Topic; an empty payload
	// deletes it [MQTT-3.3.1-6]. m is owned by the store from now on.
	Set(m *message.Message)
	// Match calls fn for every retained message whose topic matches the
	// MQTT filter (no $share prefix), in no particular order.
	Match(filter string, fn func(*message.Message))
}

// MemoryRetain is a RetainStore in a map. Match scans every retained
// topic: cost O(retained topics) per subscription with retained delivery.
type MemoryRetain struct {
	mu sync.RWMutex
	m  map[string]*message.Message // guarded by mu
}

// NewMemoryRetain returns an empty store.
func NewMemoryRetain() *MemoryRetain { return &MemoryRetain{m: map[string]*message.Message{}} }

// Set implements RetainStore.
func (r *MemoryRetain) Set(m *message.Message) {
	r.mu.Lock()
	if len(m.Payload) == 0 {
		delete(r.m, string(m.Topic))
	} else {
		r.m[string(m.Topic)] = m
	}
	r.mu.Unlock()
}

// Match implements RetainStore.
func (r *MemoryRetain) Match(filter string, fn func(*message.Message)) {
	var hits []*message.Message
	r.mu.RLock()
	for t, m := range r.m {
		if matchFilter(filter, t) {
			hits = append(hits, m)
		}
	}
	r.mu.RUnlock()
	for _, m := range hits {
		fn(m)
	}
}

// Len is the number of retained topics.
func (r *MemoryRetain) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

// matchFilter reports whether the MQTT topic name t matches filter f (spec
// 4.7): '+' one level, '#' this level and every one below, and no wildcard
// in the first level matches a topic starting with '$' [MQTT-4.7.2-1].
func matchFilter(f, t string) bool {
	if len(t) > 0 && t[0] == '$' && len(f) > 0 && (f[0] == '+' || f[0] == '#') {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(f, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(t, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			return frest == "#" // "a/#" matches "a"
		case !fmore:
			return false
		}
		f, t = frest, trest
	}
}
