package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"robustmq/shard"
)

// must returns v or panics with err: request errors end the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic("request failed: " + err.Error())
	}
	return v
}

func wantCode(t *testing.T, what string, got int16, want error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.(*kerr.Error).Code
	}
	if got != w {
		t.Errorf("%s: code %v; want %v", what, kerr.ErrorForCode(got), want)
	}
}

// TestAdmin drives the admin APIs through franz-go's kmsg requests.
func TestAdmin(t *testing.T) {
	b := startBroker(t, nil)
	cl := b.client(t, kgo.DisableIdempotentWrite(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := testCtx(t)

	ct := kmsg.NewPtrCreateTopicsRequest()
	for _, spec := range []struct {
		name string
		n    int32
		rf   int16
		cfg  map[string]string
	}{{"a", 2, 1, map[string]string{"retention.ms": "60000"}}, {"bad/name", 1, 1, nil}, {"rf3", 1, 3, nil},
		{"badcfg", 1, 1, map[string]string{"no.such": "1"}}, {"dflt", -1, -1, nil}} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = spec.name, spec.n, spec.rf
		for k, v := range spec.cfg {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, c)
		}
		ct.Topics = append(ct.Topics, rt)
	}
	ctr := must(ct.RequestWith(ctx, cl))
	want := []error{nil, kerr.InvalidTopicException, kerr.InvalidReplicationFactor, kerr.InvalidConfig, nil}
	for i, tr := range ctr.Topics {
		wantCode(t, "create "+tr.Topic, tr.ErrorCode, want[i])
	}
	ctr = must(ct.RequestWith(ctx, cl))
	wantCode(t, "create again", ctr.Topics[0].ErrorCode, kerr.TopicAlreadyExists)

	// Produce 10 records to a/0 with increasing timestamps.
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 10 {
		r := &kgo.Record{Topic: "a", Partition: 0, Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "a"
	for _, ts := range []int64{-2, -1, base.Add(3 * time.Second).UnixMilli(), base.Add(time.Hour).UnixMilli(), -4, -3} {
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition, p.Timestamp = 0, ts
		lt.Partitions = append(lt.Partitions, p)
	}
	lo.Topics = append(lo.Topics, lt)
	// franz-go's kmsg answers per partition in order; use one request per timestamp.
	for i, wantOff := range []int64{0, 10, 3, -1, 0, 9} { // -4: earliest local (v9+), -3: max timestamp
		one := kmsg.NewPtrListOffsetsRequest()
		one.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "a", Partitions: lt.Partitions[i : i+1]}}
		r := must(one.RequestWith(ctx, cl))
		if got := r.Topics[0].Partitions[0].Offset; got != wantOff || r.Version < 10 {
			t.Errorf("ListOffsets v%d ts %d: offset %d; want %d at v10", r.Version, lt.Partitions[i].Timestamp, got, wantOff)
		}
	}

	dr := kmsg.NewPtrDeleteRecordsRequest()
	dr.Topics = []kmsg.DeleteRecordsRequestTopic{{Topic: "a", Partitions: []kmsg.DeleteRecordsRequestTopicPartition{{Partition: 0, Offset: 4}}}}
	drr := must(dr.RequestWith(ctx, cl))
	if p := drr.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LowWatermark != 4 {
		t.Errorf("DeleteRecords: %+v; want low watermark 4", p)
	}
	if e, _ := b.r.EarliestOffset(shard.Name("a", 0)); e != 4 {
		t.Errorf("earliest %d after DeleteRecords; want 4", e)
	}

	dc := kmsg.NewPtrDescribeConfigsRequest()
	dc.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "a"}}
	dcr := must(dc.RequestWith(ctx, cl))
	cfg := map[string]string{}
	for _, c := range dcr.Resources[0].Configs {
		cfg[c.Name] = *c.Value
	}
	if cfg["retention.ms"] != "60000" || cfg["cleanup.policy"] != "delete" {
		t.Errorf("DescribeConfigs: %v", cfg)
	}
	inc := kmsg.NewPtrIncrementalAlterConfigsRequest()
	inc.Resources = []kmsg.IncrementalAlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "a",
		Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "retention.bytes", Value: kmsg.StringPtr("1000")},
			{Name: "retention.ms", Op: kmsg.IncrementalAlterConfigOpDelete}}}}
	incr := must(inc.RequestWith(ctx, cl))
	wantCode(t, "incremental alter", incr.Resources[0].ErrorCode, nil)
	dcr = must(dc.RequestWith(ctx, cl))
	for _, c := range dcr.Resources[0].Configs {
		cfg[c.Name] = *c.Value
	}
	if cfg["retention.bytes"] != "1000" || cfg["retention.ms"] != "-1" {
		t.Errorf("after incremental alter: %v", cfg)
	}
	ac := kmsg.NewPtrAlterConfigsRequest()
	ac.Resources = []kmsg.AlterConfigsRequestResource{{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "a",
		Configs: []kmsg.AlterConfigsRequestResourceConfig{{Name: "retention.ms", Value: kmsg.StringPtr("x")}}}}
	acr := must(ac.RequestWith(ctx, cl))
	wantCode(t, "alter bad value", acr.Resources[0].ErrorCode, kerr.InvalidConfig)

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "a", Count: 4}, {Topic: "dflt", Count: 1}}
	cpr := must(cp.RequestWith(ctx, cl))
	wantCode(t, "grow a", cpr.Topics[0].ErrorCode, nil)
	wantCode(t, "shrink dflt", cpr.Topics[1].ErrorCode, kerr.InvalidPartitions)
	md := must(kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl))
	parts := map[string]int{}
	for _, tm := range md.Topics {
		parts[*tm.Topic] = len(tm.Partitions)
	}
	if parts["a"] != 4 || parts["dflt"] != 1 {
		t.Errorf("metadata partitions %v; want a:4 dflt:1", parts)
	}
	fresh := b.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner())) // sees the new partition count
	if err := fresh.ProduceSync(ctx, &kgo.Record{Topic: "a", Partition: 3, Value: []byte("new")}).FirstErr(); err != nil {
		t.Errorf("produce to a grown partition: %v", err)
	}

	dcl := must(kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl))
	if len(dcl.Brokers) != 1 || dcl.ClusterID != "robustmq" {
		t.Errorf("DescribeCluster: %+v", dcl)
	}

	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TopicNames = []string{"a", "nope"}
	dt.Topics = []kmsg.DeleteTopicsRequestTopic{{Topic: kmsg.StringPtr("a")}, {Topic: kmsg.StringPtr("nope")}}
	dtr := must(dt.RequestWith(ctx, cl))
	wantCode(t, "delete a", dtr.Topics[0].ErrorCode, nil)
	wantCode(t, "delete nope", dtr.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)
	if _, err := b.r.LatestOffset(shard.Name("a", 3)); err == nil {
		t.Error("shard a_3 still exists after DeleteTopics")
	}
}

// TestGroupAdmin: ListGroups, DescribeGroups, OffsetDelete, DeleteGroups,
// and offsets surviving a broker restart on the same OffsetStore.
func TestGroupAdmin(t *testing.T) {
	b := startBroker(t, nil)
	createTopic(t, b.client(t), "ga", 1)
	p := b.client(t, kgo.DefaultProduceTopic("ga"))
	for range 5 {
		if err := p.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c := b.client(t, kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("ga"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))
	n := 0
	for n < 5 {
		fs := c.PollFetches(testCtx(t))
		n += fs.NumRecords()
	}
	if err := c.CommitUncommittedOffsets(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	admin := b.client(t)
	ctx := testCtx(t)
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"g1", "nosuch"}
	dgr := must(dg.RequestWith(ctx, admin))
	if g := dgr.Groups[0]; g.State != "Stable" || len(g.Members) != 1 || g.ProtocolType != "consumer" || g.ErrorCode != 0 {
		t.Errorf("DescribeGroups: state %s, %d members, type %q, code %d", g.State, len(g.Members), g.ProtocolType, g.ErrorCode)
	}
	if g := dgr.Groups[1]; dgr.Version >= 6 && g.ErrorCode != 69 || g.State != "Dead" {
		t.Errorf("DescribeGroups v%d of an unknown group: state %s code %d; want Dead, 69 from v6", dgr.Version, g.State, g.ErrorCode)
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"g1"}
	delr := must(del.RequestWith(ctx, admin))
	wantCode(t, "delete active group", delr.Groups[0].ErrorCode, kerr.NonEmptyGroup)
	if m := delr.Groups[0].ErrorMessage; delr.Version >= 3 && (m == nil || *m != "NON_EMPTY_GROUP") {
		t.Errorf("DeleteGroups v%d message %v; want NON_EMPTY_GROUP", delr.Version, m)
	}
	c.Close()

	lg := must(kmsg.NewPtrListGroupsRequest().RequestWith(ctx, admin))
	if len(lg.Groups) != 1 || lg.Groups[0].Group != "g1" {
		t.Errorf("ListGroups: %+v", lg.Groups)
	}
	for types, want := range map[string]int{"classic": 1, "consumer": 0} {
		lgt := kmsg.NewPtrListGroupsRequest()
		lgt.TypesFilter = []string{types}
		if r := must(lgt.RequestWith(ctx, admin)); r.Version >= 5 && len(r.Groups) != want {
			t.Errorf("ListGroups v%d types [%s]: %d groups; want %d", r.Version, types, len(r.Groups), want)
		}
	}

	// A new broker over the same OffsetStore serves the committed offset.
	b2 := startOn(t, b.r, b.offs, nil)
	_ = b2
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "g1"
	ofr := must(of.RequestWith(ctx, b2.client(t)))
	if len(ofr.Topics) != 1 || ofr.Topics[0].Partitions[0].Offset != 5 {
		t.Errorf("OffsetFetch after restart: %+v; want ga/0 at 5", ofr.Topics)
	}

	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g1"
	od.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "ga", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	odr := must(od.RequestWith(ctx, admin))
	wantCode(t, "offset delete", odr.ErrorCode, nil)
	delr = must(del.RequestWith(ctx, admin))
	wantCode(t, "delete empty group", delr.Groups[0].ErrorCode, nil)
	if offs, _ := b.offs.Fetch(context.Background(), "g1", ""); len(offs) != 0 {
		t.Errorf("offsets left after delete: %v", offs)
	}
}
