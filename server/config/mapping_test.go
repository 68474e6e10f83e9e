package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTopicMappings: entries parse to (mqtt, kafka, partition) sorted by
// MQTT topic; each bad entry is one error under its own key, the good
// ones are still returned.
func TestTopicMappings(t *testing.T) {
	f := func(in map[string]string, want string, wantErrs ...string) {
		t.Helper()
		c := Default()
		c.KafkaRuntime.TopicMapping = in
		if got := fmt.Sprint(c.KafkaRuntime.TopicMappings()); got != want {
			t.Errorf("TopicMappings(%v) = %s; want %s", in, got, want)
		}
		err := c.Validate()
		for _, w := range wantErrs {
			if err == nil || !strings.Contains(err.Error(), w) || !errors.Is(err, ErrValue) {
				t.Errorf("Validate(%v) = %v; want an ErrValue containing %q", in, err, w)
			}
		}
		if len(wantErrs) == 0 && err != nil {
			t.Errorf("Validate(%v) = %v; want nil", in, err)
		}
	}
	f(nil, "[]")
	f(map[string]string{"s/2": "temps:1", "s/1": "temps", "a b/c=d": "x_y-z.w:1023"},
		"[{a b/c=d x_y-z.w 1023} {s/1 temps 0} {s/2 temps 1}]")
	f(map[string]string{"s/+": "k", "#": "k", "$SYS/x": "k", "": "k"}, "[]",
		`kafka_runtime.topic_mapping.s/+: "s/+" is not an MQTT topic name`,
		`kafka_runtime.topic_mapping.#:`, `kafka_runtime.topic_mapping.$SYS/x:`, `kafka_runtime.topic_mapping.:`)
	f(map[string]string{"a": "bad/name", "b": "..", "c": "k:-1", "d": "k:1024", "e": "k:x", "f": ""}, "[]",
		`topic_mapping.a: "bad/name" is not a Kafka topic name`, `topic_mapping.b: ".."`,
		`topic_mapping.c: partition "-1" is not an integer in 0..1023`, `topic_mapping.d: partition "1024"`,
		`topic_mapping.e: partition "x"`, `topic_mapping.f: "" is not a Kafka topic name`)
	f(map[string]string{"a": "k", "b": "k:0", "c": "k:1"}, "[{a k 0} {c k 1}]",
		`topic_mapping.b: Kafka k partition 0 is already mapped from "a"`)
}

// TestTopicMappingFile: the table form of the key loads from a file.
func TestTopicMappingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.toml")
	data := "[kafka_runtime.topic_mapping]\n\"sensors/room1/temp\" = \"room1-temp\"\n\"sensors/room2/temp\" = \"temps:1\"\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "[{sensors/room1/temp room1-temp 0} {sensors/room2/temp temps 1}]"
	if got := fmt.Sprint(c.KafkaRuntime.TopicMappings()); got != want {
		t.Errorf("TopicMappings from %q = %s; want %s", data, got, want)
	}
}
