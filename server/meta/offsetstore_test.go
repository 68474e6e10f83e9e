package meta_test

import (
	"testing"
	"time"

	"robustmq/server/meta/client"
	"robustmq/shard"
	"robustmq/shard/shardtest"
)

// stoppingStore closes its meta node with the store, so the conformance
// suite's reopen restarts the node on the same data.
type stoppingStore struct {
	*client.OffsetStore
	stop func()
}

func (s stoppingStore) Close() error {
	err := s.OffsetStore.Close()
	if err == nil {
		s.stop()
	}
	return err
}

// TestOffsetStore runs the shard.OffsetStore conformance suite against
// client.OffsetStore over a real one-node Meta Service per store
// directory (restarted on the same data for the reopen check).
func TestOffsetStore(t *testing.T) {
	clusters := map[string]*cluster{}
	shardtest.RunOffsetStore(t, func(t *testing.T, dir string) shard.OffsetStore {
		c := clusters[dir]
		if c == nil {
			c = newCluster(t, 1, 10000)
			clusters[dir] = c
		}
		nd := c.nodes[0]
		c.start(nd)
		poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
		return stoppingStore{OffsetStore: client.NewOffsetStore(dial(t, nd)), stop: func() { c.stop(nd) }}
	}, shardtest.OffsetCaps{Persistent: true})
}
