package raftgroups

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Meta is the typed Meta Service API over a Manager: cluster nodes, topics,
// shards and generic KV on the metadata group, consumer offsets on the
// offset group, MQTT state on the mqtt group. Writes go through raft; reads
// are linearizable (ReadIndex first, then the local state machine). Key
// spaces are drawn in doc.go.
type Meta struct{ m *Manager }

// NewMeta returns the typed API over m.
func NewMeta(m *Manager) Meta { return Meta{m: m} }

// Key prefixes inside the state machines (doc.go, frozen).
const (
	pfxNode   = "n/"
	pfxTopic  = "t/"
	pfxShard  = "s/"
	pfxKV     = "k/"
	pfxOffset = "o/"
)

// propose runs cmd on group g. Replication failures come back as Propose
// words them ("raftgroups: metadata: propose: timed out after 30s"); the
// state machine's own refusals get the operation named ("raftgroups:
// metadata: create topic orders: already exists").
func (a Meta) propose(ctx context.Context, g GroupID, what string, cmd []byte) ([]byte, error) {
	v, err := a.m.Group(g).Propose(ctx, cmd)
	if errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("raftgroups: %s: %s: %w", g, what, err)
	}
	return v, err
}

func (a Meta) get(ctx context.Context, g GroupID, key []byte) ([]byte, bool, error) {
	grp := a.m.Group(g)
	if err := grp.ReadIndex(ctx); err != nil {
		return nil, false, err
	}
	v, ok := grp.sm.Get(key)
	return v, ok, nil
}

func (a Meta) list(ctx context.Context, g GroupID, prefix []byte) ([]KV, error) {
	grp := a.m.Group(g)
	if err := grp.ReadIndex(ctx); err != nil {
		return nil, err
	}
	return grp.sm.List(prefix), nil
}

// Generic KV on the metadata group, for protocol state. Namespaces keep
// protocols apart; a namespace must not contain 0x00.

// Txn applies ops on group g atomically when every compare holds, else
// changes nothing and fails with ErrConflict. Keys are the state machine's
// own (KVKey, MQTTKey).
func (a Meta) Txn(ctx context.Context, g GroupID, cmps []Compare, ops []Op) error {
	_, err := a.propose(ctx, g, "transaction", AppendTxn(nil, cmps, ops))
	return err
}

// KVKey is the metadata group's key of ns/key in the generic KV.
func KVKey(ns string, key []byte) []byte { return kvKey(ns, key) }

func kvKey(ns string, key []byte) []byte {
	k := append(append([]byte(pfxKV), ns...), 0)
	return append(k, key...)
}

// Put sets ns/key to value.
func (a Meta) Put(ctx context.Context, ns string, key, value []byte) error {
	_, err := a.propose(ctx, GroupMetadata, "put "+ns, AppendPut(nil, kvKey(ns, key), value))
	return err
}

// Get returns ns/key's value; ok is false if it does not exist.
func (a Meta) Get(ctx context.Context, ns string, key []byte) (value []byte, ok bool, err error) {
	return a.get(ctx, GroupMetadata, kvKey(ns, key))
}

// Delete removes ns/key; ErrNotFound if absent.
func (a Meta) Delete(ctx context.Context, ns string, key []byte) error {
	_, err := a.propose(ctx, GroupMetadata, "delete "+ns, AppendDelete(nil, kvKey(ns, key)))
	return err
}

// List returns ns's keys under prefix (namespace stripped), ascending.
func (a Meta) List(ctx context.Context, ns string, prefix []byte) ([]KV, error) {
	return a.stripList(ctx, GroupMetadata, kvKey(ns, prefix), len(kvKey(ns, nil)))
}

func (a Meta) stripList(ctx context.Context, g GroupID, prefix []byte, strip int) ([]KV, error) {
	kvs, err := a.list(ctx, g, prefix)
	for i := range kvs {
		kvs[i].Key = kvs[i].Key[strip:]
	}
	return kvs, err
}

// Node is a cluster member as registered in the metadata group.
type Node struct {
	ID        uint64
	Addr      string // inner gRPC address
	Roles     []string
	StartedAt int64 // unix ms, set by the registering node (not by apply)
}

// Encoding: addr | roles count | roles | startedAt(8).
func (n Node) appendTo(dst []byte) []byte {
	dst = appendString(dst, n.Addr)
	dst = binary.AppendUvarint(dst, uint64(len(n.Roles)))
	for _, r := range n.Roles {
		dst = appendString(dst, r)
	}
	return binary.BigEndian.AppendUint64(dst, uint64(n.StartedAt))
}

func decodeNode(key, v []byte) (Node, error) {
	r := reader{b: v}
	n := Node{ID: binary.BigEndian.Uint64(key[len(pfxNode):]), Addr: string(r.bytes())}
	cnt := r.uvarint()
	for i := uint64(0); i < cnt && !r.bad; i++ {
		n.Roles = append(n.Roles, string(r.bytes()))
	}
	if r.bad || len(r.b) != 8 {
		return Node{}, fmt.Errorf("raftgroups: node %d record: %w", n.ID, ErrCorrupt)
	}
	n.StartedAt = int64(binary.BigEndian.Uint64(r.b))
	return n, nil
}

func nodeKey(id uint64) []byte { return binary.BigEndian.AppendUint64([]byte(pfxNode), id) }

// RegisterNode records (or replaces) node n.
func (a Meta) RegisterNode(ctx context.Context, n Node) error {
	_, err := a.propose(ctx, GroupMetadata, "register node", AppendPut(nil, nodeKey(n.ID), n.appendTo(nil)))
	return err
}

// UnregisterNode removes node id; ErrNotFound if absent.
func (a Meta) UnregisterNode(ctx context.Context, id uint64) error {
	_, err := a.propose(ctx, GroupMetadata, "unregister node", AppendDelete(nil, nodeKey(id)))
	return err
}

// Nodes lists registered nodes by id.
func (a Meta) Nodes(ctx context.Context) ([]Node, error) {
	kvs, err := a.list(ctx, GroupMetadata, []byte(pfxNode))
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(kvs))
	for _, kv := range kvs {
		if len(kv.Key) != len(pfxNode)+8 {
			return nil, fmt.Errorf("raftgroups: node key %q: %w", kv.Key, ErrCorrupt)
		}
		n, err := decodeNode(kv.Key, kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// Topic is a topic's metadata.
type Topic struct {
	Name          string
	Partitions    uint32
	Engine        string // storage engine: memory, pebble, segment
	RetentionMs   int64
	RetentionByte int64
	Options       map[string]string
}

// Encoding: partitions uvarint | engine | retentionMs(8) | retentionBytes(8)
// | options count | (key value) sorted by key.
func (t Topic) appendTo(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(t.Partitions))
	dst = appendString(dst, t.Engine)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.RetentionMs))
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.RetentionByte))
	keys := make([]string, 0, len(t.Options))
	for k := range t.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic bytes for the same topic
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = appendString(appendString(dst, k), t.Options[k])
	}
	return dst
}

func decodeTopic(name string, v []byte) (Topic, error) {
	r := reader{b: v}
	t := Topic{Name: name, Partitions: uint32(r.uvarint()), Engine: string(r.bytes())}
	if len(r.b) < 16 {
		r.bad = true
	} else {
		t.RetentionMs = int64(binary.BigEndian.Uint64(r.b))
		t.RetentionByte = int64(binary.BigEndian.Uint64(r.b[8:]))
		r.b = r.b[16:]
	}
	n := r.uvarint()
	for i := uint64(0); i < n && !r.bad; i++ {
		if t.Options == nil {
			t.Options = make(map[string]string)
		}
		k, v := r.bytes(), r.bytes()
		t.Options[string(k)] = string(v)
	}
	if !r.done() {
		return Topic{}, fmt.Errorf("raftgroups: topic %q record: %w", name, ErrCorrupt)
	}
	return t, nil
}

// CreateTopic creates t; ErrExists if a topic with that name exists.
func (a Meta) CreateTopic(ctx context.Context, t Topic) error {
	if t.Name == "" || t.Partitions == 0 {
		return fmt.Errorf("raftgroups: create topic %q: name and partitions (%d) are required", t.Name, t.Partitions)
	}
	_, err := a.propose(ctx, GroupMetadata, "create topic "+t.Name, AppendPutIfAbsent(nil, []byte(pfxTopic+t.Name), t.appendTo(nil)))
	return err
}

// DeleteTopic removes topic name; ErrNotFound if absent.
func (a Meta) DeleteTopic(ctx context.Context, name string) error {
	_, err := a.propose(ctx, GroupMetadata, "delete topic "+name, AppendDelete(nil, []byte(pfxTopic+name)))
	return err
}

// Topic returns topic name; ErrNotFound if absent.
func (a Meta) Topic(ctx context.Context, name string) (Topic, error) {
	v, ok, err := a.get(ctx, GroupMetadata, []byte(pfxTopic+name))
	if err != nil {
		return Topic{}, err
	}
	if !ok {
		return Topic{}, fmt.Errorf("raftgroups: topic %q: %w", name, ErrNotFound)
	}
	return decodeTopic(name, v)
}

// Topics lists every topic by name.
func (a Meta) Topics(ctx context.Context) ([]Topic, error) {
	kvs, err := a.list(ctx, GroupMetadata, []byte(pfxTopic))
	if err != nil {
		return nil, err
	}
	out := make([]Topic, 0, len(kvs))
	for _, kv := range kvs {
		t, err := decodeTopic(string(kv.Key[len(pfxTopic):]), kv.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Shard is a shard's placement record in the "s/" key space. Name is the
// storage layer's shard name, "{topic}_{partition}" (shard.Name); Node is the
// engine node that holds the shard; Data belongs to the storage layer.
//
// Record (frozen): holder node id(8, BE) | data
type Shard struct {
	Name string
	Node uint64
	Data []byte
}

// AppendShardRecord appends s's record (not its name).
func AppendShardRecord(dst []byte, s Shard) []byte {
	return append(binary.BigEndian.AppendUint64(dst, s.Node), s.Data...)
}

// DecodeShardRecord decodes the record of shard name; Data aliases v.
func DecodeShardRecord(name string, v []byte) (Shard, error) {
	if len(v) < 8 {
		return Shard{}, fmt.Errorf("raftgroups: shard %q record: %d bytes, want at least 8: %w", name, len(v), ErrCorrupt)
	}
	return Shard{Name: name, Node: binary.BigEndian.Uint64(v), Data: v[8:]}, nil
}

// PutShard records (or replaces) shard s.
func (a Meta) PutShard(ctx context.Context, s Shard) error {
	_, err := a.propose(ctx, GroupMetadata, "put shard "+s.Name, AppendPut(nil, []byte(pfxShard+s.Name), AppendShardRecord(nil, s)))
	return err
}

// DeleteShard removes shard name's record; ErrNotFound if absent.
func (a Meta) DeleteShard(ctx context.Context, name string) error {
	_, err := a.propose(ctx, GroupMetadata, "delete shard "+name, AppendDelete(nil, []byte(pfxShard+name)))
	return err
}

// Shards lists the shard records whose name starts with prefix, by name.
func (a Meta) Shards(ctx context.Context, prefix string) ([]Shard, error) {
	kvs, err := a.stripList(ctx, GroupMetadata, []byte(pfxShard+prefix), len(pfxShard))
	if err != nil {
		return nil, err
	}
	out := make([]Shard, len(kvs))
	for i, kv := range kvs {
		if out[i], err = DecodeShardRecord(string(kv.Key), kv.Value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OffsetCommit is one partition's committed offset for a consumer group.
type OffsetCommit struct {
	Topic     string
	Partition int32
	Offset    int64
	Metadata  string
}

func offsetKey(dst []byte, group, topic string, partition int32) []byte {
	dst = append(append(append(dst, pfxOffset...), group...), 0)
	dst = append(append(dst, topic...), 0)
	return binary.BigEndian.AppendUint32(dst, uint32(partition))
}

// CommitOffsets stores every commit of consumer group group in one raft
// command (atomic). Group and topic names must not contain 0x00.
func (a Meta) CommitOffsets(ctx context.Context, group string, commits []OffsetCommit) error {
	cmd, err := offsetsCommand(group, commits)
	if err != nil {
		return err
	}
	_, err = a.propose(ctx, GroupOffset, "commit offsets", cmd)
	return err
}

// GroupCommit is one consumer group's commits, stored atomically.
type GroupCommit struct {
	Group   string
	Commits []OffsetCommit
}

// CommitOffsetsBatch stores each of cs as CommitOffsets does, as one command
// each, all proposed at once; errs[i] is cs[i]'s outcome.
// REQUIRES: len(errs) == len(cs).
func (a Meta) CommitOffsetsBatch(ctx context.Context, cs []GroupCommit, errs []error) {
	cmds := make([][]byte, len(cs))
	at := make([]int, 0, len(cs)) // cmds[j] is cs[at[j]]
	for i, c := range cs {
		cmd, err := offsetsCommand(c.Group, c.Commits)
		if errs[i] = err; err == nil {
			cmds[len(at)] = cmd
			at = append(at, i)
		}
	}
	out := make([]error, len(at))
	a.m.Group(GroupOffset).ProposeBatch(ctx, cmds[:len(at)], out)
	for j, err := range out {
		errs[at[j]] = err
	}
}

// offsetsCommand is the opMultiPut command of group's commits.
func offsetsCommand(group string, commits []OffsetCommit) ([]byte, error) {
	if strings.IndexByte(group, 0) >= 0 {
		return nil, fmt.Errorf("raftgroups: commit offsets: group %q contains 0x00", group)
	}
	cmd := binary.AppendUvarint(append(make([]byte, 0, 16+len(commits)*(32+len(group))), opMultiPut), uint64(len(commits)))
	var key, val []byte
	for _, c := range commits {
		key = offsetKey(key[:0], group, c.Topic, c.Partition)
		val = binary.BigEndian.AppendUint64(val[:0], uint64(c.Offset))
		val = append(val, c.Metadata...)
		cmd = appendBytes(appendBytes(cmd, key), val)
	}
	return cmd, nil
}

// FetchOffsets returns the committed offsets of group for the given
// partitions; a partition never committed has Offset -1.
func (a Meta) FetchOffsets(ctx context.Context, group string, parts []OffsetCommit) ([]OffsetCommit, error) {
	grp := a.m.Group(GroupOffset)
	if err := grp.ReadIndex(ctx); err != nil {
		return nil, fmt.Errorf("raftgroups: fetch offsets: %w", err)
	}
	out := make([]OffsetCommit, len(parts))
	var key []byte
	for i, p := range parts {
		out[i] = OffsetCommit{Topic: p.Topic, Partition: p.Partition, Offset: -1}
		key = offsetKey(key[:0], group, p.Topic, p.Partition)
		if v, ok := grp.sm.Get(key); ok && len(v) >= 8 {
			out[i].Offset = int64(binary.BigEndian.Uint64(v))
			out[i].Metadata = string(v[8:])
		}
	}
	return out, nil
}

// offsetPrefix is the key prefix of group's offsets, of topic's only when
// topic is not "".
func offsetPrefix(group, topic string) ([]byte, error) {
	if strings.IndexByte(group, 0) >= 0 || strings.IndexByte(topic, 0) >= 0 {
		return nil, fmt.Errorf("raftgroups: offsets: group %q or topic %q contains 0x00", group, topic)
	}
	p := append(append([]byte(pfxOffset), group...), 0)
	if topic != "" {
		p = append(append(p, topic...), 0)
	}
	return p, nil
}

// GroupOffsets returns every committed offset of group (of topic only,
// when not ""), sorted by topic then partition: keys sort that way.
func (a Meta) GroupOffsets(ctx context.Context, group, topic string) ([]OffsetCommit, error) {
	prefix, err := offsetPrefix(group, "")
	if err != nil {
		return nil, err
	}
	full := prefix
	if topic != "" {
		full = append(append(append([]byte(nil), prefix...), topic...), 0)
	}
	kvs, err := a.list(ctx, GroupOffset, full)
	if err != nil {
		return nil, fmt.Errorf("raftgroups: group offsets: %w", err)
	}
	out := make([]OffsetCommit, 0, len(kvs))
	for _, kv := range kvs {
		rest := kv.Key[len(prefix):] // topic 0x00 partition(4)
		i := bytes.IndexByte(rest, 0)
		if i < 0 || len(rest) != i+5 || len(kv.Value) < 8 {
			return nil, fmt.Errorf("raftgroups: group offsets: %w: key %q", ErrCorrupt, kv.Key)
		}
		out = append(out, OffsetCommit{Topic: string(rest[:i]), Partition: int32(binary.BigEndian.Uint32(rest[i+1:])),
			Offset: int64(binary.BigEndian.Uint64(kv.Value)), Metadata: string(kv.Value[8:])})
	}
	return out, nil
}

// DeleteOffsets removes group's offsets (of topic only, when not "") in
// one command.
func (a Meta) DeleteOffsets(ctx context.Context, group, topic string) error {
	prefix, err := offsetPrefix(group, topic)
	if err != nil {
		return err
	}
	_, err = a.propose(ctx, GroupOffset, "delete offsets", AppendDeletePrefix(nil, prefix))
	return err
}

// OffsetGroups returns the groups holding at least one offset, sorted. It
// reads every offset key: an admin operation, not a hot path.
func (a Meta) OffsetGroups(ctx context.Context) ([]string, error) {
	kvs, err := a.list(ctx, GroupOffset, []byte(pfxOffset))
	if err != nil {
		return nil, fmt.Errorf("raftgroups: offset groups: %w", err)
	}
	var out []string
	for _, kv := range kvs {
		g, _, _ := bytes.Cut(kv.Key[len(pfxOffset):], []byte{0})
		if len(out) == 0 || out[len(out)-1] != string(g) {
			out = append(out, string(g))
		}
	}
	return out, nil
}

// MQTTKind selects one MQTT state table on the mqtt group.
type MQTTKind byte

// MQTT tables (frozen: the byte is the key prefix).
const (
	MQTTSession      MQTTKind = 's'
	MQTTSubscription MQTTKind = 'u'
	MQTTRetained     MQTTKind = 'r'
	MQTTWill         MQTTKind = 'w'
	MQTTUser         MQTTKind = 'a'
	MQTTACL          MQTTKind = 'c'
	MQTTBlacklist    MQTTKind = 'b'
)

// MQTTKey is the mqtt group's key of key in table kind.
func MQTTKey(kind MQTTKind, key []byte) []byte { return mqttKey(kind, key) }

func mqttKey(kind MQTTKind, key []byte) []byte { return append([]byte{byte(kind), '/'}, key...) }

// MQTTPut sets key in table kind.
func (a Meta) MQTTPut(ctx context.Context, kind MQTTKind, key, value []byte) error {
	_, err := a.propose(ctx, GroupMQTT, "mqtt put", AppendPut(nil, mqttKey(kind, key), value))
	return err
}

// MQTTGet returns key in table kind; ok is false if absent.
func (a Meta) MQTTGet(ctx context.Context, kind MQTTKind, key []byte) ([]byte, bool, error) {
	return a.get(ctx, GroupMQTT, mqttKey(kind, key))
}

// MQTTDelete removes key from table kind; ErrNotFound if absent.
func (a Meta) MQTTDelete(ctx context.Context, kind MQTTKind, key []byte) error {
	_, err := a.propose(ctx, GroupMQTT, "mqtt delete", AppendDelete(nil, mqttKey(kind, key)))
	return err
}

// MQTTList returns table kind's keys under prefix (table prefix stripped).
func (a Meta) MQTTList(ctx context.Context, kind MQTTKind, prefix []byte) ([]KV, error) {
	return a.stripList(ctx, GroupMQTT, mqttKey(kind, prefix), 2)
}
