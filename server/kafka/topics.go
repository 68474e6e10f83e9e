package kafka

import (
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"robustmq/codec/kafka"
	"robustmq/server/config"
	"robustmq/shard"
)

// topicMeta is one topic as Kafka sees it. Immutable once published; a
// change (CreatePartitions, AlterConfigs) publishes a new value.
type topicMeta struct {
	name    string
	bname   []byte // name, for callbacks taking bytes (read-only)
	id      [16]byte
	shards  []string          // shards[p] = naming.Shard(name, p)
	configs map[string]string // topic configs set by the client (Describe/Alter)
	maxMsg  int               // max.message.bytes when set, else 0
}

// maxBytes is the largest batch the topic takes.
func (m *topicMeta) maxBytes(def int) int {
	if m.maxMsg > 0 {
		return m.maxMsg
	}
	return def
}

// withConfigs sets configs and what is derived from them.
func (m *topicMeta) withConfigs(configs map[string]string) {
	m.configs = configs
	m.maxMsg, _ = strconv.Atoi(configs["max.message.bytes"])
}

// topics is the Kafka topic table over the Router's topics. Lookups take
// the read lock with a no-copy m[string(b)] key. Changes (create, grow,
// remove, setConfigs) are serialized by wmu, held across their Router and
// OffsetStore calls (which may block; they run on workers or in New); mu
// is taken only to swap entries, so lookups on event loops never wait for
// I/O. Lock order: wmu, then mu.
type topics struct {
	wmu    sync.Mutex
	mu     sync.RWMutex
	m      map[string]*topicMeta   // guarded by mu
	byID   map[[16]byte]*topicMeta // guarded by mu
	router *shard.Router
	tmpl   shard.ShardConfig
	naming Naming
	store  shard.OffsetStore // topic records (topic_store.go); nil keeps them in memory only
	log    *slog.Logger
}

// Naming maps a Kafka topic's partitions onto shard names and back
// (Options.Naming). Topic must invert Shard: the loader keeps a shard only
// when Shard(Topic(s)) == s and the topic is a legal Kafka name, so shards
// of other protocols that no Kafka topic names are left alone.
type Naming interface {
	Shard(topic string, p int32) string
	Topic(shard string) (topic string, p int32, ok bool)
}

// Pinner is an optional extension of a Naming that pins partitions of
// some topics to shards of other protocols (the broker's mapping table):
// MinPartitions is the partition count such a topic must have (one past
// its highest pinned partition; 0 for a topic with none). Topics are
// created with at least that many partitions (auto-create, adoption and
// CreateTopics asking for fewer alike), and a topic is adoptable when the
// shard of any partition below it exists.
type Pinner interface {
	MinPartitions(topic string) int32
}

// minPartitions is MinPartitions of the naming, 0 when it pins nothing.
func (t *topics) minPartitions(name string) int32 {
	if p, ok := t.naming.(Pinner); ok {
		return p.MinPartitions(name)
	}
	return 0
}

// ShardNaming is Kafka's own naming: partition p of t is shard.Name(t, p),
// "{t}_{p}".
type ShardNaming struct{}

func (ShardNaming) Shard(t string, p int32) string { return shard.Name(t, p) }

func (ShardNaming) Topic(s string) (string, int32, bool) {
	i := strings.LastIndexByte(s, '_')
	if i <= 0 {
		return "", 0, false
	}
	p, err := strconv.ParseInt(s[i+1:], 10, 32)
	if err != nil || p < 0 {
		return "", 0, false
	}
	return s[:i], int32(p), true
}

// loadTopics rebuilds the table from the shards the engines already hold
// (persistent engines after a restart): shard s is partition p of t when
// naming.Topic(s) says so.
func loadTopics(r *shard.Router, tmpl shard.ShardConfig, naming Naming, store shard.OffsetStore,
	log *slog.Logger) (*topics, error) {
	t := &topics{m: map[string]*topicMeta{}, byID: map[[16]byte]*topicMeta{}, router: r, tmpl: tmpl,
		naming: naming, store: store, log: log}
	stored, bad, err := loadStored(store)
	if err != nil {
		return nil, err
	}
	for name, err := range bad {
		log.Warn("kafka: unreadable topic record: the topic gets a new id", "topic", name, "err", err)
	}
	infos, err := r.ListShards()
	if err != nil {
		return nil, errors.New("kafka: list shards: " + err.Error())
	}
	counts := map[string]int32{}
	for _, in := range infos {
		name, p, ok := naming.Topic(in.Config.Name)
		if !ok || !config.KafkaTopicName(name) || naming.Shard(name, p) != in.Config.Name {
			continue
		}
		counts[name] = max(counts[name], p+1)
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		st, ok := stored[name]
		if _, err := t.add(name, counts[name], st.configs, st.id, !ok); err != nil && !errors.Is(err, shard.ErrTopicExists) {
			return nil, err
		}
	}
	return t, nil
}

// getID looks up a topic by id.
func (t *topics) getID(id [16]byte) *topicMeta {
	t.mu.RLock()
	m := t.byID[id]
	t.mu.RUnlock()
	return m
}

// lookup finds a request's topic: by id when byID (Fetch and Produce
// v13+), else by name. code is the error for a topic not found:
// UNKNOWN_TOPIC_ID or UNKNOWN_TOPIC_OR_PARTITION.
func (t *topics) lookup(name []byte, id [16]byte, byID bool) (*topicMeta, kafka.ErrorCode) {
	if byID {
		if m := t.getID(id); m != nil {
			return m, kafka.None
		}
		return nil, kafka.UnknownTopicID
	}
	if m := t.get(name); m != nil {
		return m, kafka.None
	}
	return nil, kafka.UnknownTopicOrPartition
}

// get looks up a topic by a view of its name without allocating.
func (t *topics) get(name []byte) *topicMeta {
	t.mu.RLock()
	m := t.m[string(name)]
	t.mu.RUnlock()
	return m
}

// shardOf returns the shard of (topic, partition), or "" if there is none.
func (t *topics) shardOf(name []byte, p int32) string {
	m := t.get(name)
	if m == nil || p < 0 || int(p) >= len(m.shards) {
		return ""
	}
	return m.shards[p]
}

// list returns every topic, sorted by name.
func (t *topics) list() []*topicMeta {
	t.mu.RLock()
	out := slices.Collect(maps.Values(t.m))
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b *topicMeta) int { return strings.Compare(a.name, b.name) })
	return out
}

// adoptable reports whether topic name, unknown to the table, has its
// partition-0 shard (or the shard of a pinned partition, see Pinner) in
// the router already (written by another protocol).
func (t *topics) adoptable(name string) bool {
	for p := range max(t.minPartitions(name), 1) {
		if _, err := t.router.LatestOffset(t.naming.Shard(name, p)); err == nil {
			return true
		}
	}
	return false
}

// create makes a topic with n partitions, or the naming's MinPartitions
// if more (see Pinner). ErrTopicExists if it exists.
func (t *topics) create(name string, n int32, configs map[string]string) (*topicMeta, error) {
	return t.add(name, n, configs, [16]byte{}, true)
}

// add is create with the topic's id (a new one when zero) and whether to
// write its record (a new topic, or one loaded without a record).
func (t *topics) add(name string, n int32, configs map[string]string, id [16]byte, save bool) (*topicMeta, error) {
	n = max(n, t.minPartitions(name))
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.get([]byte(name)) != nil {
		return nil, &detailed{shard.ErrTopicExists, "kafka topic " + strconv.Quote(name)}
	}
	if id == ([16]byte{}) {
		id = t.storedID(name) // another broker's, or this one's before a memory engine lost the shards
	}
	if id == ([16]byte{}) {
		id = newTopicID()
	}
	m := &topicMeta{name: name, bname: []byte(name), id: id}
	m.withConfigs(configs)
	sc := shardConfig(t.tmpl, configs)
	for p := range n {
		sc.Name = t.naming.Shard(name, p)
		// An existing shard is adopted: a restart, or a topic another
		// protocol wrote first (see Naming).
		if err := t.router.CreateShard(sc); err != nil && !errors.Is(err, shard.ErrShardExists) {
			return nil, &detailed{err, "kafka topic " + strconv.Quote(name) + " partition " + strconv.Itoa(int(p))}
		}
		m.shards = append(m.shards, sc.Name)
	}
	if save {
		// The shards exist and hold the data: a record that cannot be
		// written costs the topic its id (a new one at restart), not the
		// topic.
		if err := t.saveTopic(m); err != nil {
			t.log.Warn("kafka: topic id not stored", "topic", name, "err", err)
		}
	}
	t.publish(m)
	return m, nil
}

// publish puts m (new, or a new version of a topic) in the table.
// REQUIRES: t.wmu held.
func (t *topics) publish(m *topicMeta) {
	t.mu.Lock()
	t.m[m.name] = m
	t.byID[m.id] = m
	t.mu.Unlock()
}

// grow raises a topic's partition count to n (CreatePartitions).
func (t *topics) grow(name string, n int32) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	old := t.get([]byte(name))
	if old == nil {
		return shard.ErrTopicNotFound
	}
	if int(n) <= len(old.shards) {
		return errInvalidPartitions
	}
	m := *old
	m.shards = slices.Clone(old.shards)
	for p := int32(len(old.shards)); p < n; p++ {
		sc := t.tmpl
		sc.Name = t.naming.Shard(name, p)
		if err := t.router.CreateShard(sc); err != nil && !errors.Is(err, shard.ErrShardExists) {
			return err
		}
		m.shards = append(m.shards, sc.Name)
	}
	t.publish(&m)
	return nil
}

var errInvalidPartitions = errors.New("kafka: partition count can only grow")

// remove deletes a topic and its shards.
func (t *topics) remove(name string) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	m := t.get([]byte(name))
	if m == nil {
		return shard.ErrTopicNotFound
	}
	t.mu.Lock()
	delete(t.m, name)
	delete(t.byID, m.id)
	t.mu.Unlock()
	err := t.dropTopic(name)
	for _, sh := range m.shards {
		if e := t.router.DeleteShard(sh); e != nil && !errors.Is(e, shard.ErrShardNotFound) {
			err = errors.Join(err, e)
		}
	}
	return err
}

// setConfigs replaces a topic's configs.
func (t *topics) setConfigs(name string, configs map[string]string) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	old := t.get([]byte(name))
	if old == nil {
		return shard.ErrTopicNotFound
	}
	m := *old
	m.withConfigs(configs)
	if err := t.saveTopic(&m); err != nil {
		return err
	}
	t.publish(&m)
	return nil
}
