package kafka

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"robustmq/shard/memory"
)

// metaTopic asks Metadata for one topic, by name or (name "") by id.
func metadataOf(t *testing.T, cl *kgo.Client, name string, id [16]byte) kmsg.MetadataResponseTopic {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.TopicID = id
	if name != "" {
		mt.Topic = kmsg.StringPtr(name)
	}
	req.Topics = append(req.Topics, mt)
	resp := must(req.RequestWith(testCtx(t), cl))
	if len(resp.Topics) != 1 {
		t.Fatalf("metadata %q %x: %d topics; want 1", name, id, len(resp.Topics))
	}
	return resp.Topics[0]
}

// TestTopicIDs: a topic gets a random UUID v4 at creation, stored with its
// configs: a server started again over the same storage reports the same
// id and configs; Metadata answers by id (UNKNOWN_TOPIC_ID for an unknown
// one), and so do Fetch v13+ and Produce v13; a topic deleted and created
// again gets a new id; the reserved group holding the records is not
// listed and cannot be written by clients.
func TestTopicIDs(t *testing.T) {
	b := startBroker(t, nil)
	cl := b.client(t)
	createTopic(t, cl, "ids", 2)
	setTopicConfig(t, cl, "ids", "max.message.bytes", "5000")
	id := metadataOf(t, cl, "ids", [16]byte{}).TopicID
	if id == ([16]byte{}) || id[6]>>4 != 4 || id[8]>>6 != 2 {
		t.Fatalf("topic id %x; want a version 4 UUID", id)
	}
	if got := metadataOf(t, cl, "", id); got.ErrorCode != 0 || got.Topic == nil || *got.Topic != "ids" || len(got.Partitions) != 2 {
		t.Fatalf("metadata by id: code %d name %v, %d partitions; want ids, 2", got.ErrorCode, got.Topic, len(got.Partitions))
	}
	unknown := [16]byte{1, 2, 3}
	if got := metadataOf(t, cl, "", unknown); got.ErrorCode != 100 || got.TopicID != unknown {
		t.Fatalf("metadata by unknown id: code %d id %x; want 100 (UNKNOWN_TOPIC_ID), the id", got.ErrorCode, got.TopicID)
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxBytes, fetch.SessionEpoch = 1<<20, -1
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = unknown
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fr := must(fetch.RequestWith(testCtx(t), cl))
	if fr.Version < 13 || fr.Topics[0].Partitions[0].ErrorCode != 100 {
		t.Fatalf("fetch v%d of an unknown id: code %d; want v13+ and 100", fr.Version, fr.Topics[0].Partitions[0].ErrorCode)
	}
	if code, _ := rawProduce(t, cl, "ids", rawBatch(t, 1, 1, -1, -1, -1)); code != 0 {
		t.Fatalf("produce by id: code %d; want 0", code)
	}
	// OffsetCommit and OffsetFetch v10 name topics by id.
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "idg", -1
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "ids", TopicID: id,
		Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 7}}},
		{TopicID: unknown, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	ocr := must(oc.RequestWith(testCtx(t), cl))
	if ocr.Version < 10 || ocr.Topics[0].Partitions[0].ErrorCode != 0 || ocr.Topics[1].Partitions[0].ErrorCode != 100 {
		t.Fatalf("OffsetCommit v%d by id: %+v; want v10, codes 0 and 100", ocr.Version, ocr.Topics)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "idg", Topics: []kmsg.OffsetFetchRequestGroupTopic{
		{Topic: "ids", TopicID: id, Partitions: []int32{1}}, {TopicID: unknown, Partitions: []int32{0}}}}}
	ofr := must(of.RequestWith(testCtx(t), cl))
	if g := ofr.Groups[0]; ofr.Version < 10 || len(g.Topics) != 2 || g.Topics[0].TopicID != id ||
		g.Topics[0].Partitions[0].Offset != 7 || g.Topics[1].TopicID != unknown || g.Topics[1].Partitions[0].ErrorCode != 100 {
		t.Fatalf("OffsetFetch v%d by id: %+v; want v10, ids/1 at 7, the unknown id with 100", ofr.Version, g.Topics)
	}

	// Another server over the same storage: what a restart reads.
	s2, err := New(Options{Router: b.r, Offsets: b.offs, Advertised: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s2.Shutdown(ctx)
	}()
	if m := s2.topics.get([]byte("ids")); m == nil || m.id != id || m.configs["max.message.bytes"] != "5000" || len(m.shards) != 2 {
		t.Fatalf("reloaded topic %+v; want id %x, max.message.bytes 5000, 2 partitions", m, id)
	}

	del := kmsg.NewPtrDeleteTopicsRequest()
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.TopicID = id // by id (v6)
	del.Topics = append(del.Topics, dt)
	del.TopicNames = []string{}
	if r := must(del.RequestWith(testCtx(t), cl)); r.Topics[0].ErrorCode != 0 || r.Topics[0].Topic == nil || *r.Topics[0].Topic != "ids" {
		t.Fatalf("delete by id: code %d name %v; want 0, ids", r.Topics[0].ErrorCode, r.Topics[0].Topic)
	}
	if r := must(del.RequestWith(testCtx(t), cl)); r.Topics[0].ErrorCode != 100 {
		t.Fatalf("delete of a deleted id: code %d; want 100 (UNKNOWN_TOPIC_ID)", r.Topics[0].ErrorCode)
	}
	createTopic(t, cl, "ids", 1)
	if again := metadataOf(t, cl, "ids", [16]byte{}).TopicID; again == id || again == ([16]byte{}) {
		t.Fatalf("recreated topic id %x; want a new one (was %x)", again, id)
	}
	groups := must(kmsg.NewPtrListGroupsRequest().RequestWith(testCtx(t), cl))
	for _, g := range groups.Groups {
		if reservedGroup(g.Group) {
			t.Fatalf("ListGroups lists the reserved group %q", g.Group)
		}
	}
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{topicGroup}
	if r := must(dg.RequestWith(testCtx(t), cl)); r.Groups[0].ErrorCode != 24 {
		t.Fatalf("DeleteGroups of the reserved group: code %d; want 24 (INVALID_GROUP_ID)", r.Groups[0].ErrorCode)
	}
}

// FuzzTopicRecord: any stored bytes decode or fail cleanly, and what
// decodes encodes back to the same record.
func FuzzTopicRecord(f *testing.F) {
	f.Add(encodeTopic(&topicMeta{id: newTopicID(), configs: map[string]string{"retention.ms": "1000", "a": ""}}))
	f.Add(encodeTopic(&topicMeta{id: [16]byte{1}}))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, in []byte) {
		id, configs, err := decodeTopic(in)
		if err != nil {
			return
		}
		again := encodeTopic(&topicMeta{id: id, configs: configs})
		id2, configs2, err := decodeTopic(again)
		if err != nil || id2 != id || !bytes.Equal(encodeTopic(&topicMeta{id: id2, configs: configs2}), again) {
			t.Fatalf("round trip of %x: %v", in, err)
		}
	})
}

// TestTopicIDShared: brokers sharing one OffsetStore (the Meta Service's
// offset group) give a topic one id: a broker creating a topic another
// one recorded takes the recorded id.
func TestTopicIDShared(t *testing.T) {
	b := startBroker(t, nil)
	createTopic(t, b.client(t), "shared", 1)
	id := b.s.topics.get([]byte("shared")).id
	r2, offs2 := newStorage(t, memory.Options{})
	offs2.Close()
	defer r2.Close()
	s2, err := New(Options{Router: r2, Offsets: b.offs, Advertised: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s2.Shutdown(ctx)
	}()
	m, err := s2.topics.create("shared", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.id != id {
		t.Fatalf("second broker's topic id %x; want the recorded %x", m.id, id)
	}
}
