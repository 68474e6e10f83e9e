package shard_test

import (
	"testing"

	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/pebblestore"
	"robustmq/shard/shardtest"
)

// TestEnginesAgree runs the metamorphic comparison of the memory and pebble
// engines over several seeds.
func TestEnginesAgree(t *testing.T) {
	engines := map[string]shardtest.Factory{
		"memory": func(t *testing.T, dir string) shard.Engine { return memory.New(memory.Options{}) },
		"pebble": func(t *testing.T, dir string) shard.Engine {
			e, err := pebblestore.Open(dir, pebblestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
	}
	for seed := uint64(1); seed <= 4; seed++ {
		shardtest.Compare(t, seed, 400, engines, map[string]bool{"pebble": true})
	}
}
