package message

import (
	"errors"
	"testing"

	"robustmq/shard"
	"robustmq/shard/memory"
)

// TestForgetTopic: once a topic's shard is deleted behind the hub, a
// publish fails to store until ForgetTopic, and then stores again in a
// recreated shard.
func TestForgetTopic(t *testing.T) {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{RetentionInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := New(Options{Store: r})
	publish := func(want error) {
		t.Helper()
		var got error
		h.Publish(&Message{Topic: []byte("f/g"), Payload: []byte("p"), QoS: 1}, func(err error) { got = err })
		if !errors.Is(got, want) {
			t.Fatalf("publish f/g: %v; want %v", got, want)
		}
	}
	publish(nil)
	if err := r.DeleteShard(ShardName("f/g")); err != nil {
		t.Fatal(err)
	}
	publish(ErrStore) // the cached entry still names the deleted shard
	h.ForgetTopic("f/g")
	h.ForgetTopic("never/seen")
	if n := len(h.Topics()); n != 0 {
		t.Fatalf("Topics after ForgetTopic: %d entries; want 0", n)
	}
	publish(nil)
	if latest, err := r.LatestOffset(ShardName("f/g")); err != nil || latest != 1 {
		t.Fatalf("recreated shard: latest %d, %v; want 1, nil", latest, err)
	}
}
