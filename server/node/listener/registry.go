package listener

import (
	"errors"
	"fmt"
	"sync"
)

// ErrDuplicate is returned by Registry.Add for a name already registered.
var ErrDuplicate = errors.New("listener: duplicate name")

// Probe reports on one bound port.
type Probe interface {
	// Name is the listener's short name, e.g. "grpc", "http", "mqtt".
	Name() string
	// BoundAddr is the bound address, host:port.
	BoundAddr() string
	// Accepting tells whether the listener still takes new connections. It must be cheap.
	Accepting() bool
}

// Registry holds the probes of a node's bound ports. The zero value is ready to use.
type Registry struct {
	mu     sync.Mutex
	probes []Probe // guarded by mu; registration order
}

// Add registers p. It fails with ErrDuplicate if a probe of that name is registered.
func (r *Registry) Add(p Probe) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.probes {
		if q.Name() == p.Name() {
			return fmt.Errorf("%w: %q", ErrDuplicate, p.Name())
		}
	}
	r.probes = append(r.probes, p)
	return nil
}

// Remove unregisters the probe named name, if any.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, q := range r.probes {
		if q.Name() == name {
			r.probes = append(r.probes[:i], r.probes[i+1:]...)
			return
		}
	}
}

// List returns the registered probes in registration order. The slice is the caller's.
func (r *Registry) List() []Probe {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Probe(nil), r.probes...)
}

// Accepting reports whether every registered probe accepts. If one does not, down is its name.
func (r *Registry) Accepting() (ok bool, down string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.probes {
		if !p.Accepting() {
			return false, p.Name()
		}
	}
	return true, ""
}
