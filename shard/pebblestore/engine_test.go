package pebblestore

import (
	"testing"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

func open(t *testing.T, dir string) shard.Engine {
	t.Helper()
	e, err := Open(dir, Options{Decoder: shardtest.Decoder})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConformance(t *testing.T) {
	shardtest.Run(t, open, shardtest.Caps{Persistent: true, ExactRetention: true})
}
