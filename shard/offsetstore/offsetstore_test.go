package offsetstore

import (
	"testing"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

func TestConformance(t *testing.T) {
	shardtest.RunOffsetStore(t, func(t *testing.T, dir string) shard.OffsetStore {
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, shardtest.OffsetCaps{Persistent: true})
}
