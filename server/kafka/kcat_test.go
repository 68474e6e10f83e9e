package kafka

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// kcat runs the kcat binary (Debian package kcat, librdkafka 2.x) against
// b with a time bound; the test is skipped when kcat is not installed.
func kcat(t *testing.T, b *testBroker, stdin string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed (apt-get install -y kcat); skipping the librdkafka client tests")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-b", b.addr, "-X", "topic.metadata.refresh.interval.ms=500"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "%") {
			out = append(out, l)
		}
	}
	return out
}

// TestKcat: metadata listing, produce with keys and every codec, consume
// from the beginning, and a balanced consumer group (-G).
func TestKcat(t *testing.T) {
	b := startBroker(t, nil)
	createTopic(t, b.client(t), "kc", 2)
	if out := kcat(t, b, "", "-L", "-t", "kc"); !strings.Contains(out, `topic "kc" with 2 partitions`) {
		t.Fatalf("kcat -L:\n%s", out)
	}
	var want []string
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		var in strings.Builder
		for i := range 20 {
			v := fmt.Sprintf("%s-%02d", codec, i)
			fmt.Fprintf(&in, "k%d:%s\n", i%4, v)
			want = append(want, v)
		}
		kcat(t, b, in.String(), "-P", "-t", "kc", "-K", ":", "-z", codec, "-X", "acks=all")
	}
	sort.Strings(want)
	got := lines(kcat(t, b, "", "-C", "-t", "kc", "-o", "beginning", "-e", "-f", "%s\n"))
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("kcat -C got %d records %v; want %d", len(got), got, len(want))
	}
	got = lines(kcat(t, b, "", "-G", "kgrp", "-X", "auto.offset.reset=earliest", "-c", fmt.Sprint(len(want)),
		"-f", "%s\n", "kc"))
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("kcat -G got %d records; want %d", len(got), len(want))
	}
}

// TestKcatFetchAtEnd: a fetch at the high-water mark answers an empty record set, never a null one,
// which librdkafka refuses ("invalid MessageSetSize -1", a protocol parse failure).
func TestKcatFetchAtEnd(t *testing.T) {
	b := startBroker(t, nil)
	kcat(t, b, "k:v\n", "-P", "-t", "end", "-K", ":", "-X", "acks=all")
	if out := kcat(t, b, "", "-C", "-t", "end", "-o", "1", "-e"); strings.Contains(out, "PROTOERR") ||
		!strings.Contains(out, "Reached end of topic end [0] at offset 1") {
		t.Fatalf("kcat -C -o 1 (at the end) printed:\n%s", out)
	}
}
