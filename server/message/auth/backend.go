package auth

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
)

// Table is one of the backend's tables; the values are the Meta
// Service's MQTT table names (raftgroups.MQTTKind).
type Table byte

const (
	Users     Table = 'a'
	ACL       Table = 'c'
	Blacklist Table = 'b'
)

// KV is one stored record.
type KV struct{ Key, Value []byte }

// Backend persists the three tables. Its methods may block (network, raft)
// and are called by Store writers and reloads only, never on an event loop.
type Backend interface {
	Put(ctx context.Context, t Table, key, value []byte) error
	Delete(ctx context.Context, t Table, key []byte) error
	// List returns every record of t in ascending key order.
	List(ctx context.Context, t Table) ([]KV, error)
}

// Watcher is a Backend that reports changes made elsewhere (another
// broker, the admin API of another node): Watch calls changed after every
// change (spurious calls allowed) until ctx ends, from its own goroutine.
type Watcher interface {
	Watch(ctx context.Context, changed func()) error
}

// Versioned is a Backend whose writes replace a version token: a Store
// following it (Follow) re-reads the tables only when the token moved,
// whatever else its Watch reports.
type Versioned interface {
	Version(ctx context.Context) ([]byte, error)
}

// Memory is a Backend in memory (unit tests, nodes without the Meta
// Service role). Safe from any goroutine.
type Memory struct {
	mu sync.Mutex
	t  map[Table]map[string][]byte // guarded by mu
}

// NewMemory returns an empty Memory backend.
func NewMemory() *Memory { return &Memory{t: map[Table]map[string][]byte{}} }

func (m *Memory) Put(_ context.Context, t Table, key, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.t[t] == nil {
		m.t[t] = map[string][]byte{}
	}
	m.t[t][string(key)] = bytes.Clone(value)
	return nil
}

func (m *Memory) Delete(_ context.Context, t Table, key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.t[t], string(key))
	return nil
}

func (m *Memory) List(_ context.Context, t Table) ([]KV, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]KV, 0, len(m.t[t]))
	for k, v := range m.t[t] {
		out = append(out, KV{[]byte(k), bytes.Clone(v)})
	}
	slices.SortFunc(out, func(a, b KV) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return out, nil
}
