package segment

import (
	"log/slog"
	"testing"

	"robustmq/shard"
	"robustmq/shard/shardtest"
)

// quiet drops the engine's logs in tests; they assert on metrics instead.
var quiet = slog.New(slog.DiscardHandler)

// testOptions are small so tests roll segments and exercise every path.
func testOptions(dir string) Options {
	return Options{Dir: dir, SegmentBytes: 16 << 10, PreallocBytes: 8 << 10, IndexIntervalBytes: 512,
		IndexIntervalRecords: 8, FlushInterval: -1, RetentionInterval: -1, Logger: quiet, Decoder: shardtest.Decoder}
}

func openTest(t testing.TB, o Options) *EngineSegment {
	t.Helper()
	e, err := Open(o)
	if err != nil {
		t.Fatalf("Open(%s): %v", o.Dir, err)
	}
	return e
}

func TestConformance(t *testing.T) {
	shardtest.Run(t, func(t *testing.T, dir string) shard.Engine {
		return openTest(t, testOptions(dir))
	}, shardtest.Caps{Persistent: true, Terms: true})
}
