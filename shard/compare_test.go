package shard_test

import (
	"os"
	"strconv"
	"testing"

	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/pebblestore"
	"robustmq/shard/shardtest"
)

// TestEnginesAgree runs the metamorphic comparison of the memory and pebble
// engines over a few seeds; ROBUSTMQ_SHARD_SEEDS=n runs n seeds (soak).
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
	seeds := uint64(3)
	if n, err := strconv.ParseUint(os.Getenv("ROBUSTMQ_SHARD_SEEDS"), 10, 32); err == nil {
		seeds = n
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		shardtest.Compare(t, seed, 300, engines, map[string]bool{"pebble": true})
	}
}
