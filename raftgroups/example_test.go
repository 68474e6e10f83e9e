package raftgroups_test

import (
	"context"
	"fmt"
	"os"

	"robustmq/raftgroups"
)

// A standalone node: the same code as a cluster, with single-member groups
// and no transport. A cluster node also sets Peers and a Transport
// (raftgroups/grpctransport, registered on the inner gRPC server before it
// serves, with SetReceiver(manager)).
func Example() {
	dir, _ := os.MkdirTemp("", "raftgroups-example")
	defer os.RemoveAll(dir)
	db, err := raftgroups.OpenDB(dir, nil)
	if err != nil {
		panic(err)
	}
	defer db.Close() // after Stop
	m, err := raftgroups.New(raftgroups.Config{NodeID: 1, DB: db})
	if err != nil {
		panic(err)
	}
	m.Start()
	defer m.Stop()

	meta := raftgroups.NewMeta(m)
	ctx := context.Background()
	if err := meta.CreateTopic(ctx, raftgroups.Topic{Name: "orders", Partitions: 3, Engine: "segment"}); err != nil {
		panic(err)
	}
	if err := meta.CommitOffsets(ctx, "billing", []raftgroups.OffsetCommit{{Topic: "orders", Partition: 2, Offset: 41}}); err != nil {
		panic(err)
	}
	t, _ := meta.Topic(ctx, "orders")
	offs, _ := meta.FetchOffsets(ctx, "billing", []raftgroups.OffsetCommit{{Topic: "orders", Partition: 2}})
	fmt.Println(t.Name, t.Partitions, t.Engine, offs[0].Offset)
	for _, s := range m.Status() {
		fmt.Println(s.Group, s.Leader, s.Members)
	}
	// Output:
	// orders 3 segment 41
	// metadata 1 [1]
	// offset 1 [1]
	// mqtt 1 [1]
}
