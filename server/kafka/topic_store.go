package kafka

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strconv"
	"time"

	"robustmq/shard"
)

// Topic ids and configs survive a restart. A topic gets a random id (a
// version 4 UUID) when it is created, and its id and client-set configs
// are written to the OffsetStore under the reserved group topicGroup (a
// name no client can use: it starts with NUL, and ListGroups leaves such
// groups out), one entry per topic (Topic = the topic name, partition 0,
// offset 0), record in Metadata. The partitions themselves are the
// Router's shards, as before. A delete removes the entry, so a topic
// created again under the same name gets a new id (clients tell the two
// apart, as with Kafka). Writes happen where the topic table changes
// (create, remove, setConfigs), which run on workers or in New, never on
// an event loop. loadTopics reads every entry back; a topic found in the
// shards without an entry (written before ids were stored, or adopted
// from another protocol's shard) gets a new id then. The OffsetStore may
// be shared by every broker (the Meta Service's offset group), so entries
// are never dropped for shards this broker lacks, and a topic created
// while an entry for its name exists takes that entry's id: brokers
// holding partitions of one topic report one id. (A topic of the memory
// engine created again after a restart keeps its old id for the same
// reason.)
//
// Topic record (frozen; strings are uvarint length + bytes):
//
//	version   byte  1
//	id        16 bytes (UUID v4)
//	configs   uvarint count, then per config: name string, value string (sorted by name)

const (
	topicGroup         = "\x00topics"
	topicRecordFormat  = 1
	topicStoreDeadline = 30 * time.Second
)

var errTopicRecord = errors.New("kafka: corrupt topic record")

// reservedGroup reports whether a group id is the server's own (it starts
// with NUL: topicGroup): ListGroups leaves it out, OffsetCommit and
// DeleteGroups refuse it with INVALID_GROUP_ID.
func reservedGroup(id string) bool { return len(id) > 0 && id[0] == 0 }

// newTopicID returns a random version 4 UUID, never the zero id.
func newTopicID() (id [16]byte) {
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails (Go 1.24+)
	id[6] = id[6]&0x0f | 0x40
	id[8] = id[8]&0x3f | 0x80
	return id
}

func encodeTopic(m *topicMeta) []byte {
	b := append([]byte{topicRecordFormat}, m.id[:]...)
	b = binary.AppendUvarint(b, uint64(len(m.configs)))
	for _, k := range slices.Sorted(maps.Keys(m.configs)) {
		b = appendStr(appendStr(b, k), m.configs[k])
	}
	return b
}

func decodeTopic(rec []byte) (id [16]byte, configs map[string]string, err error) {
	if len(rec) < 17 || rec[0] != topicRecordFormat {
		return id, nil, errTopicRecord
	}
	copy(id[:], rec[1:17])
	r := groupReader{b: rec[17:]}
	n := r.uvarint()
	if n > 0 {
		configs = map[string]string{}
	}
	for ; n > 0 && r.err == nil; n-- {
		k := r.str()
		configs[k] = r.str()
	}
	if r.err != nil || id == ([16]byte{}) {
		return id, nil, errTopicRecord
	}
	return id, configs, nil
}

// saveTopic writes m's record. REQUIRES: t.wmu held (records are written
// in table order).
func (t *topics) saveTopic(m *topicMeta) error {
	if t.store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), topicStoreDeadline)
	defer cancel()
	err := t.store.Commit(ctx, topicGroup, []shard.GroupOffset{{Topic: m.name, Metadata: string(encodeTopic(m))}})
	if err != nil {
		return errors.New("kafka: store topic " + strconv.Quote(m.name) + ": " + err.Error())
	}
	return nil
}

// dropTopic deletes name's record. REQUIRES: t.wmu held, or New.
func (t *topics) dropTopic(name string) error {
	if t.store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), topicStoreDeadline)
	defer cancel()
	if err := t.store.DeleteTopic(ctx, topicGroup, name); err != nil {
		return errors.New("kafka: drop stored topic " + strconv.Quote(name) + ": " + err.Error())
	}
	return nil
}

// storedID is the id of name's stored record, or zero when there is none
// (or it cannot be read: the topic then gets a new id). REQUIRES: t.wmu
// held.
func (t *topics) storedID(name string) [16]byte {
	if t.store == nil {
		return [16]byte{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), topicStoreDeadline)
	defer cancel()
	offs, err := t.store.Fetch(ctx, topicGroup, name)
	if err != nil || len(offs) == 0 {
		return [16]byte{}
	}
	id, _, err := decodeTopic([]byte(offs[0].Metadata))
	if err != nil {
		return [16]byte{}
	}
	return id
}

// storedTopic is one topic record read back.
type storedTopic struct {
	id      [16]byte
	configs map[string]string
}

// loadStored reads every topic record (New). Unreadable records are
// logged by the caller and treated as absent.
func loadStored(store shard.OffsetStore) (map[string]storedTopic, map[string]error, error) {
	out, bad := map[string]storedTopic{}, map[string]error{}
	if store == nil {
		return out, bad, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), topicStoreDeadline)
	defer cancel()
	offs, err := store.Fetch(ctx, topicGroup, "")
	if err != nil {
		return nil, nil, errors.New("kafka: load topics: " + err.Error())
	}
	for _, o := range offs {
		id, configs, err := decodeTopic([]byte(o.Metadata))
		if err != nil {
			bad[o.Topic] = err
			continue
		}
		out[o.Topic] = storedTopic{id: id, configs: configs}
	}
	return out, bad, nil
}
