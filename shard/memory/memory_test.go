package memory

import (
	"testing"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

func TestConformance(t *testing.T) {
	shardtest.Run(t, func(t *testing.T, dir string) shard.Engine {
		return New(Options{})
	}, shardtest.Caps{ExactRetention: true})
}
