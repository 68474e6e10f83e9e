package shard_test

import (
	"context"
	"fmt"

	"robustmq/shard"
	"robustmq/shard/memory"
)

// A broker's produce and fetch through the Router: pick the partition, append
// a batch, read it back, release the result.
func ExampleRouter() {
	r, err := shard.NewRouter([]shard.Engine{memory.New(memory.Options{})}, shard.RouterOptions{})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	if err := r.CreateTopic(shard.TopicConfig{Name: "orders", Partitions: 3, Shard: shard.ShardConfig{Engine: shard.EngineMemory}}); err != nil {
		panic(err)
	}
	p, name, _ := r.Partition("orders", []byte("customer-42"), -1)
	first, err := r.Append(context.Background(), name, []shard.Record{
		{Timestamp: 1000, Key: []byte("customer-42"), Value: []byte("created")},
		{Timestamp: 1001, Key: []byte("customer-42"), Value: []byte("paid")},
	}, shard.AppendOptions{Durability: shard.DurabilitySync})
	if err != nil {
		panic(err)
	}
	res, err := r.Read(name, first, 10, 1<<20)
	if err != nil {
		panic(err)
	}
	defer res.Release() // the records' bytes are valid until here
	fmt.Println("partition", p, "shard", name)
	for _, rec := range res.Records {
		fmt.Println(rec.Offset, string(rec.Key), string(rec.Value))
	}
	fmt.Println("next", res.Next, "latest", res.Latest)
	// Output:
	// partition 0 shard orders_0
	// 0 customer-42 created
	// 1 customer-42 paid
	// next 2 latest 2
}
