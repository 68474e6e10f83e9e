package component

import (
	"sync"

	"robustmq/shard"
)

// Storage is the node's storage slot: how the Storage Engine role hands its storage to the roles that
// start after it on the same node (the Broker). Components are built before anything starts, so the
// storage cannot be passed to constructors; the engine Provides it at the end of its Start and
// Withdraws it at the start of its Stop, and the Broker Looks it up in its own Start (the start order
// meta -> engine -> broker guarantees the engine, if the node has the role, has provided by then).
//
// An empty slot at the Broker's Start means this node has no engine role: the Broker then uses storage
// of its own and says so in its log (remote storage engines are reached once the cluster work wires
// them). The zero value is an empty slot; a nil *Storage behaves as one. Safe for concurrent use.
type Storage struct {
	mu  sync.RWMutex
	cur *StorageHandles // guarded by mu; nil: nothing provided
}

// StorageHandles is what the Storage Engine provides. The engine owns all of it: users never close
// them, and must be stopped before the engine stops (reverse start order gives that).
type StorageHandles struct {
	// Router is the shard router over the node's engines. Kafka needs its topic table, so it is the
	// concrete type.
	Router *shard.Router
	// Engine is the engine new persistent topics are created on (the router's default).
	Engine shard.EngineType
	// Offsets keeps consumer-group offsets until the Meta Service's offset group serves them.
	Offsets shard.OffsetStore
}

// Provide fills the slot. REQUIRES: h.Router != nil and the slot is empty.
func (s *Storage) Provide(h StorageHandles) {
	if h.Router == nil {
		panic("component: Storage.Provide without a router")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		panic("component: Storage.Provide on a filled slot")
	}
	s.cur = &h
}

// Withdraw empties the slot.
func (s *Storage) Withdraw() {
	s.mu.Lock()
	s.cur = nil
	s.mu.Unlock()
}

// Lookup returns what was provided, if anything.
func (s *Storage) Lookup() (StorageHandles, bool) {
	if s == nil {
		return StorageHandles{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cur == nil {
		return StorageHandles{}, false
	}
	return *s.cur, true
}
