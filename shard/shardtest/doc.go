// Package shardtest is the conformance suite every storage engine passes:
// memory and pebble run it in their own tests, segment/ runs it from its
// package. It checks the Adapter contract written in package shard's doc:
// shard lifecycle and errors, dense offsets from 0, byte-exact round trips
// (nil versus empty keys, values and header values), read limits, key, tag
// and time lookups against brute force, DeleteRecords and retention,
// Wait and AppendAsync, many writers and readers at once (run it with
// -race), and, for persistent engines, everything again after a reopen.
//
// Usage, from an engine's _test.go:
//
//	func TestConformance(t *testing.T) {
//		shardtest.Run(t, func(t *testing.T, dir string) shard.Engine {
//			e, err := Open(dir, Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			return e
//		}, shardtest.Caps{Persistent: true})
//	}
//
// The factory is called with a fresh t.TempDir() per subtest, and again with
// the same dir after Close when the suite checks a reopen. The suite closes
// every engine it opened. It never sleeps: waits poll to a deadline.
//
// Compare is the metamorphic test: the same random operations against several
// engines must print the same trace. shard/ runs it for memory == pebble;
// segment/ can run it for memory == segment (it passed 4 seeds x 400 ops when
// this was written).
//
// RunOffsetStore is the conformance suite for shard.OffsetStore
// implementations (shard/offsetstore today, the Meta Service's later).
package shardtest
