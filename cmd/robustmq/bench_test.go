package main

import (
	"bytes"
	"strings"
	"testing"

	"robustmq/server/node"
)

// TestBenchCommands checks the bench dispatch: each target and mode is
// reached, bad flags are config errors, and an unreachable server is a
// failure naming the address.
func TestBenchCommands(t *testing.T) {
	t.Parallel()
	f := func(args []string, wantCode int, wantOut string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := bench(args, &stdout, &stderr); code != wantCode || !strings.Contains(stdout.String()+stderr.String(), wantOut) {
			t.Fatalf("bench %q = %d, stdout %q, stderr %q; want %d and %q", args, code, stdout.String(), stderr.String(), wantCode, wantOut)
		}
	}
	f(nil, node.ExitConfig, "bench meta|mqtt|kafka")
	f([]string{"nosuch"}, node.ExitConfig, "bench meta|mqtt|kafka")
	f([]string{"meta", "-h"}, node.ExitOK, "-clients counts")
	f([]string{"meta", "--clients", "x"}, node.ExitConfig, `--clients "x"`)
	f([]string{"mqtt"}, node.ExitConfig, "bench mqtt pubsub|conn")
	f([]string{"mqtt", "pubsub", "-h"}, node.ExitOK, "-rate msg/s")
	f([]string{"mqtt", "pub/sub", "--qos", "2"}, node.ExitConfig, `--qos "2"`)
	f([]string{"mqtt", "pubsub", "extra"}, node.ExitConfig, `unexpected argument "extra"`)
	f([]string{"mqtt", "pubsub", "--addr", "127.0.0.1:1", "--duration", "10ms"}, node.ExitFail, "bench/mqtt: dial 127.0.0.1:1")
	f([]string{"mqtt", "conn", "-h"}, node.ExitOK, "-procs int")
	f([]string{"mqtt", "conn", "--addr", "127.0.0.1:1", "--count", "1", "--json"}, node.ExitFail, `"connected":0`)
	f([]string{"kafka"}, node.ExitConfig, "bench kafka produce|consume")
	f([]string{"kafka", "produce", "--acks", "2"}, node.ExitFail, `bench/kafka: acks "2"`)
	f([]string{"kafka", "consume", "-h"}, node.ExitOK, "-group string")
}
