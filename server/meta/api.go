package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"robustmq/raftgroups"
	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// api implements pb.MetaServiceServer over the running groups.
type api struct {
	pb.UnimplementedMetaServiceServer
	s *Service
}

// errCodes is the one table from an error to its gRPC code and admin HTTP status; the first match
// wins, anything else is Internal / 500.
var errCodes = []struct {
	err  error
	grpc codes.Code
	http int
}{
	{ErrUnavailable, codes.Unavailable, http.StatusServiceUnavailable},
	{raftgroups.ErrStopped, codes.Unavailable, http.StatusServiceUnavailable},
	{raftgroups.ErrNotFound, codes.NotFound, http.StatusNotFound},
	{raftgroups.ErrExists, codes.AlreadyExists, http.StatusConflict},
	{raftgroups.ErrTimeout, codes.DeadlineExceeded, http.StatusGatewayTimeout},
	{context.DeadlineExceeded, codes.DeadlineExceeded, http.StatusGatewayTimeout},
	{raftgroups.ErrBusy, codes.ResourceExhausted, http.StatusTooManyRequests},
	{raftgroups.ErrTooLarge, codes.InvalidArgument, http.StatusBadRequest},
	{errBadRequest, codes.InvalidArgument, http.StatusBadRequest},
	{context.Canceled, codes.Canceled, 499},
}

func classify(err error) (codes.Code, int) {
	for _, e := range errCodes {
		if errors.Is(err, e.err) {
			return e.grpc, e.http
		}
	}
	return codes.Internal, http.StatusInternalServerError
}

// code maps an error to its gRPC status; the message keeps the error's own words.
func code(err error) error {
	if err == nil {
		return nil
	}
	c, _ := classify(err)
	return status.Error(c, err.Error())
}

// errBadRequest marks a request the service refuses before raft sees it.
var errBadRequest = errors.New("bad request")

func (a *api) meta() (raftgroups.Meta, error) {
	r, err := a.s.live()
	if err != nil {
		return raftgroups.Meta{}, err
	}
	return r.meta, nil
}

var empty = &pb.MetaEmpty{}

// RegisterNode implements pb.MetaServiceServer.
func (a *api) RegisterNode(ctx context.Context, n *pb.MetaNode) (*pb.MetaEmpty, error) {
	m, err := a.meta()
	if err == nil {
		if n.GetId() == 0 {
			err = fmt.Errorf("meta: register node: id 0: %w", errBadRequest)
		} else {
			err = m.RegisterNode(ctx, raftgroups.Node{ID: n.GetId(), Addr: n.GetAddr(), Roles: n.GetRoles(), StartedAt: n.GetStartedAtMs()})
		}
	}
	if err == nil {
		err = a.s.heartbeat(ctx, n.GetId())
	}
	return empty, code(err)
}

// Heartbeat implements pb.MetaServiceServer.
func (a *api) Heartbeat(ctx context.Context, r *pb.HeartbeatRequest) (*pb.MetaEmpty, error) {
	return empty, code(a.s.heartbeat(ctx, r.GetId()))
}

// UnregisterNode implements pb.MetaServiceServer.
func (a *api) UnregisterNode(ctx context.Context, r *pb.NodeRef) (*pb.MetaEmpty, error) {
	m, err := a.meta()
	if err == nil {
		err = m.UnregisterNode(ctx, r.GetId())
	}
	if err == nil { // its liveness mark goes with it
		err = m.Delete(ctx, nsNodeState, []byte(strconv.FormatUint(r.GetId(), 10)))
		if errors.Is(err, raftgroups.ErrNotFound) {
			err = nil
		}
	}
	return empty, code(err)
}

// ListNodes implements pb.MetaServiceServer.
func (a *api) ListNodes(ctx context.Context, _ *pb.MetaEmpty) (*pb.NodeList, error) {
	nodes, err := a.s.nodes(ctx)
	if err != nil {
		return nil, code(err)
	}
	out := &pb.NodeList{Nodes: make([]*pb.MetaNode, len(nodes))}
	for i, n := range nodes {
		out.Nodes[i] = &pb.MetaNode{Id: n.ID, Addr: n.Addr, Roles: n.Roles, StartedAtMs: n.StartedAt, Status: n.Status}
	}
	return out, nil
}

// NodeInfo is a registered node with its liveness, as the admin API and ListNodes show it.
type NodeInfo struct {
	ID        uint64   `json:"node_id"`
	Addr      string   `json:"addr"`
	Roles     []string `json:"roles"`
	StartedAt int64    `json:"start_time"` // unix ms
	Status    string   `json:"status"`     // "alive" or "down"
	// LastHeartbeatMs is the last heartbeat as known by this node: only the metadata leader knows
	// it; 0 elsewhere.
	LastHeartbeatMs int64 `json:"last_heartbeat_ms"`
}

func (s *Service) nodes(ctx context.Context) ([]NodeInfo, error) {
	r, err := s.live()
	if err != nil {
		return nil, err
	}
	nodes, down, err := membership(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make([]NodeInfo, len(nodes))
	for i, n := range nodes {
		out[i] = NodeInfo{ID: n.ID, Addr: n.Addr, Roles: n.Roles, StartedAt: n.StartedAt, Status: "alive"}
		if down[n.ID] {
			out[i].Status = "down"
		}
		if t, ok := s.ctl.lastSeen(n.ID); ok {
			out[i].LastHeartbeatMs = t.UnixMilli()
		}
	}
	return out, nil
}

func topicToPB(t raftgroups.Topic) *pb.MetaTopic {
	return &pb.MetaTopic{Name: t.Name, Partitions: t.Partitions, Engine: t.Engine, RetentionMs: t.RetentionMs, RetentionBytes: t.RetentionByte, Options: t.Options}
}

// createTopic checks the name (no '/': storage keeps a shard per directory; no NUL) and creates the
// topic, unless a deletion of that name is still being collected (its shard records would go with
// it). It clears the name's tombstone first, so engines do not drop the new topic's shards.
func (s *Service) createTopic(ctx context.Context, t raftgroups.Topic) error {
	r, err := s.live()
	if err != nil {
		return err
	}
	if t.Name == "" || strings.ContainsAny(t.Name, "/\x00") || t.Partitions == 0 {
		return fmt.Errorf("meta: create topic %q: name must be non-empty without '/' or NUL, partitions (%d) > 0: %w", t.Name, t.Partitions, errBadRequest)
	}
	switch _, pending, err := r.meta.Get(ctx, nsGC, []byte(t.Name)); {
	case err != nil:
		return err
	case pending:
		return fmt.Errorf("meta: create topic %q: its deletion is still being collected, retry in a moment: %w", t.Name, raftgroups.ErrExists)
	}
	if err := r.meta.Delete(ctx, NSDropped, []byte(t.Name)); err != nil && !errors.Is(err, raftgroups.ErrNotFound) {
		return err
	}
	return r.meta.CreateTopic(ctx, t)
}

// deleteTopic deletes the topic, then leaves its tombstone (engines drop the data) and a marker for
// the controller to collect its shard records.
func (s *Service) deleteTopic(ctx context.Context, name string) error {
	r, err := s.live()
	if err != nil {
		return err
	}
	if err := r.meta.DeleteTopic(ctx, name); err != nil {
		return err
	}
	// The deletion id tells this deletion from a later one of the same name (engines handle each once).
	id := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
	if err := r.meta.Put(ctx, NSDropped, []byte(name), id); err != nil {
		return err
	}
	return r.meta.Put(ctx, nsGC, []byte(name), nil)
}

// CreateTopic implements pb.MetaServiceServer.
func (a *api) CreateTopic(ctx context.Context, t *pb.MetaTopic) (*pb.MetaEmpty, error) {
	err := a.s.createTopic(ctx, raftgroups.Topic{Name: t.GetName(), Partitions: t.GetPartitions(), Engine: t.GetEngine(),
		RetentionMs: t.GetRetentionMs(), RetentionByte: t.GetRetentionBytes(), Options: t.GetOptions()})
	return empty, code(err)
}

// DeleteTopic implements pb.MetaServiceServer.
func (a *api) DeleteTopic(ctx context.Context, r *pb.TopicRef) (*pb.MetaEmpty, error) {
	return empty, code(a.s.deleteTopic(ctx, r.GetName()))
}

// GetTopic implements pb.MetaServiceServer.
func (a *api) GetTopic(ctx context.Context, r *pb.TopicRef) (*pb.MetaTopic, error) {
	m, err := a.meta()
	if err != nil {
		return nil, code(err)
	}
	t, err := m.Topic(ctx, r.GetName())
	if err != nil {
		return nil, code(err)
	}
	return topicToPB(t), nil
}

// ListTopics implements pb.MetaServiceServer.
func (a *api) ListTopics(ctx context.Context, _ *pb.MetaEmpty) (*pb.TopicList, error) {
	m, err := a.meta()
	if err != nil {
		return nil, code(err)
	}
	ts, err := m.Topics(ctx)
	if err != nil {
		return nil, code(err)
	}
	out := &pb.TopicList{Topics: make([]*pb.MetaTopic, len(ts))}
	for i, t := range ts {
		out.Topics[i] = topicToPB(t)
	}
	return out, nil
}

// PutShard implements pb.MetaServiceServer: key is the shard name ("{topic}_{partition}"), value
// its record (raftgroups.Shard: holder node id(8, BE) | data).
func (a *api) PutShard(ctx context.Context, r *pb.KVPair) (*pb.MetaEmpty, error) {
	m, err := a.meta()
	if err == nil {
		var sh raftgroups.Shard
		if sh, err = raftgroups.DecodeShardRecord(string(r.GetKey()), r.GetValue()); err != nil {
			err = fmt.Errorf("meta: put shard: %w: %w", err, errBadRequest)
		} else if sh.Name == "" {
			err = fmt.Errorf("meta: put shard: empty name: %w", errBadRequest)
		} else {
			err = m.PutShard(ctx, sh)
		}
	}
	return empty, code(err)
}

// ListShards implements pb.MetaServiceServer: every shard record, by name.
func (a *api) ListShards(ctx context.Context, _ *pb.MetaEmpty) (*pb.KVList, error) {
	m, err := a.meta()
	if err != nil {
		return nil, code(err)
	}
	shards, err := m.Shards(ctx, "")
	if err != nil {
		return nil, code(err)
	}
	out := &pb.KVList{Items: make([]*pb.KVPair, len(shards))}
	for i, sh := range shards {
		out.Items[i] = &pb.KVPair{Key: []byte(sh.Name), Value: raftgroups.AppendShardRecord(nil, sh)}
	}
	return out, nil
}

func kvList(kvs []raftgroups.KV) *pb.KVList {
	out := &pb.KVList{Items: make([]*pb.KVPair, len(kvs))}
	for i, kv := range kvs {
		out.Items[i] = &pb.KVPair{Key: kv.Key, Value: kv.Value}
	}
	return out
}

// mqttTables are the MQTT tables a request may name, one byte each: raftgroups' (MQTTSession ...
// MQTTBlacklist), the due, fired and owner tables of session expiry, delayed wills and session
// ownership, and the version table (client.TableVersion).
const mqttTables = "surwacb" + client.TableDue + client.TableFired + client.TableOwner + client.TableVersion

// mqttKind checks the MQTT table of a request: one byte, one of mqttTables.
func mqttKind(table string) (raftgroups.MQTTKind, error) {
	if len(table) == 1 && strings.Contains(mqttTables, table) {
		return raftgroups.MQTTKind(table[0]), nil
	}
	return 0, fmt.Errorf("meta: mqtt table %q: not one of %s: %w", table, strings.Join(strings.Split(mqttTables, ""), " "), errBadRequest)
}

// kvSpace is the table a KV request names: a namespace of the metadata group's generic KV, or an
// MQTT table of the mqtt group.
type kvSpace struct {
	m    raftgroups.Meta
	mqtt bool
	kind raftgroups.MQTTKind // mqtt
	ns   string              // !mqtt
}

func (a *api) space(r *pb.KVRequest) (kvSpace, error) {
	m, err := a.meta()
	if err != nil {
		return kvSpace{}, err
	}
	k := kvSpace{m: m, ns: r.GetTable()}
	switch r.GetSpace() {
	case pb.Space_SPACE_MQTT:
		k.mqtt = true
		k.kind, err = mqttKind(r.GetTable())
	case pb.Space_SPACE_KV:
		if k.ns == "" || strings.IndexByte(k.ns, 0) >= 0 {
			err = fmt.Errorf("meta: kv namespace %q: must be non-empty without NUL: %w", k.ns, errBadRequest)
		}
	default:
		err = fmt.Errorf("meta: kv space %d: unknown: %w", r.GetSpace(), errBadRequest)
	}
	return k, err
}

func (k kvSpace) put(ctx context.Context, key, value []byte) error {
	if k.mqtt {
		return k.m.MQTTPut(ctx, k.kind, key, value)
	}
	return k.m.Put(ctx, k.ns, key, value)
}

func (k kvSpace) get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if k.mqtt {
		return k.m.MQTTGet(ctx, k.kind, key)
	}
	return k.m.Get(ctx, k.ns, key)
}

func (k kvSpace) delete(ctx context.Context, key []byte) error {
	if k.mqtt {
		return k.m.MQTTDelete(ctx, k.kind, key)
	}
	return k.m.Delete(ctx, k.ns, key)
}

func (k kvSpace) list(ctx context.Context, prefix []byte) ([]raftgroups.KV, error) {
	if k.mqtt {
		return k.m.MQTTList(ctx, k.kind, prefix)
	}
	return k.m.List(ctx, k.ns, prefix)
}

// Put implements pb.MetaServiceServer.
func (a *api) Put(ctx context.Context, r *pb.KVRequest) (*pb.MetaEmpty, error) {
	k, err := a.space(r)
	if err == nil {
		err = k.put(ctx, r.GetKey(), r.GetValue())
	}
	return empty, code(err)
}

// Get implements pb.MetaServiceServer.
func (a *api) Get(ctx context.Context, r *pb.KVRequest) (*pb.KVValue, error) {
	k, err := a.space(r)
	if err != nil {
		return nil, code(err)
	}
	v, ok, err := k.get(ctx, r.GetKey())
	if err != nil {
		return nil, code(err)
	}
	return &pb.KVValue{Found: ok, Value: v}, nil
}

// Delete implements pb.MetaServiceServer.
func (a *api) Delete(ctx context.Context, r *pb.KVRequest) (*pb.MetaEmpty, error) {
	k, err := a.space(r)
	if err == nil {
		err = k.delete(ctx, r.GetKey())
	}
	return empty, code(err)
}

// List implements pb.MetaServiceServer.
func (a *api) List(ctx context.Context, r *pb.KVRequest) (*pb.KVList, error) {
	k, err := a.space(r)
	if err != nil {
		return nil, code(err)
	}
	kvs, err := k.list(ctx, r.GetKey())
	if err != nil {
		return nil, code(err)
	}
	return kvList(kvs), nil
}

// maxTxnItems bounds a transaction's compares + ops: one raft entry, applied at once on every
// replica, so a huge one would stall the group (and exceed the proposal size anyway).
const maxTxnItems = 1024

// key is k's state machine key in the space's group.
func (k kvSpace) key(key []byte) []byte {
	if k.mqtt {
		return raftgroups.MQTTKey(k.kind, key)
	}
	return raftgroups.KVKey(k.ns, key)
}

// Txn implements pb.MetaServiceServer: the request becomes one raftgroups transaction on its
// space's group. A failed compare is an answer (succeeded = false), not an error.
func (a *api) Txn(ctx context.Context, r *pb.TxnRequest) (*pb.TxnResponse, error) {
	rc, ro := r.GetCompares(), r.GetOps()
	if n := len(rc) + len(ro); n > maxTxnItems {
		return nil, code(fmt.Errorf("meta: txn: %d compares + ops, more than %d: %w", n, maxTxnItems, errBadRequest))
	}
	g := raftgroups.GroupMetadata
	switch r.GetSpace() {
	case pb.Space_SPACE_KV:
	case pb.Space_SPACE_MQTT:
		g = raftgroups.GroupMQTT
	default:
		return nil, code(fmt.Errorf("meta: txn: space %d: unknown: %w", r.GetSpace(), errBadRequest))
	}
	m, err := a.meta()
	if err != nil {
		return nil, code(err)
	}
	// stateKey checks table as Put does and maps key into the group's key space.
	stateKey := func(table string, key []byte) ([]byte, error) {
		k, err := a.space(&pb.KVRequest{Space: r.GetSpace(), Table: table})
		if err != nil {
			return nil, err
		}
		return k.key(key), nil
	}
	cmps := make([]raftgroups.Compare, len(rc))
	for i, c := range rc {
		if cmps[i].Key, err = stateKey(c.GetTable(), c.GetKey()); err != nil {
			return nil, code(fmt.Errorf("%w (txn compare %d)", err, i))
		}
		cmps[i].Value, cmps[i].Absent = c.GetValue(), c.GetAbsent()
	}
	ops := make([]raftgroups.Op, len(ro))
	for i, o := range ro {
		if ops[i].Key, err = stateKey(o.GetTable(), o.GetKey()); err != nil {
			return nil, code(fmt.Errorf("%w (txn op %d)", err, i))
		}
		ops[i].Value, ops[i].Delete = o.GetValue(), o.GetDelete()
	}
	switch err := m.Txn(ctx, g, cmps, ops); {
	case errors.Is(err, raftgroups.ErrConflict):
		return &pb.TxnResponse{Succeeded: false}, nil
	case err != nil:
		return nil, code(err)
	}
	return &pb.TxnResponse{Succeeded: true}, nil
}

func offsetsIn(es []*pb.OffsetEntry) []raftgroups.OffsetCommit {
	out := make([]raftgroups.OffsetCommit, len(es))
	for i, e := range es {
		out[i] = raftgroups.OffsetCommit{Topic: e.GetTopic(), Partition: e.GetPartition(), Offset: e.GetOffset(), Metadata: e.GetMetadata()}
	}
	return out
}

// CommitOffsets implements pb.MetaServiceServer.
func (a *api) CommitOffsets(ctx context.Context, r *pb.CommitOffsetsRequest) (*pb.MetaEmpty, error) {
	m, err := a.meta()
	if err == nil {
		err = m.CommitOffsets(ctx, r.GetGroup(), offsetsIn(r.GetOffsets()))
	}
	return empty, code(err)
}

// CommitOffsetsBatch implements pb.MetaServiceServer: every commit is proposed at once and answered
// on its own. A service that is not running fails the whole call (Unavailable), so the client tries
// another node.
func (a *api) CommitOffsetsBatch(ctx context.Context, r *pb.CommitOffsetsBatchRequest) (*pb.CommitOffsetsBatchResponse, error) {
	m, err := a.meta()
	if err != nil {
		return nil, code(err)
	}
	in := r.GetCommits()
	cs := make([]raftgroups.GroupCommit, len(in))
	for i, c := range in {
		cs[i] = raftgroups.GroupCommit{Group: c.GetGroup(), Commits: offsetsIn(c.GetOffsets())}
	}
	errs := make([]error, len(cs))
	m.CommitOffsetsBatch(ctx, cs, errs)
	out := &pb.CommitOffsetsBatchResponse{Results: make([]*pb.CommitResult, len(errs))}
	ok := &pb.CommitResult{}
	for i, err := range errs {
		out.Results[i] = ok
		if err != nil {
			c, _ := classify(err)
			out.Results[i] = &pb.CommitResult{Code: uint32(c), Message: err.Error()}
		}
	}
	return out, nil
}

// FetchOffsets implements pb.MetaServiceServer.
func (a *api) FetchOffsets(ctx context.Context, r *pb.FetchOffsetsRequest) (*pb.FetchOffsetsResponse, error) {
	m, err := a.meta()
	if err != nil {
		return nil, code(err)
	}
	var got []raftgroups.OffsetCommit
	if r.GetAll() && len(r.GetPartitions()) == 0 {
		got, err = m.GroupOffsets(ctx, r.GetGroup(), r.GetTopic())
	} else {
		got, err = m.FetchOffsets(ctx, r.GetGroup(), offsetsIn(r.GetPartitions()))
	}
	if err != nil {
		return nil, code(err)
	}
	out := &pb.FetchOffsetsResponse{Offsets: make([]*pb.OffsetEntry, len(got))}
	for i, o := range got {
		out.Offsets[i] = &pb.OffsetEntry{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Metadata: o.Metadata}
	}
	return out, nil
}

// DeleteOffsets implements pb.MetaServiceServer.
func (a *api) DeleteOffsets(ctx context.Context, r *pb.DeleteOffsetsRequest) (*pb.MetaEmpty, error) {
	m, err := a.meta()
	if err == nil {
		err = m.DeleteOffsets(ctx, r.GetGroup(), r.GetTopic())
	}
	return empty, code(err)
}

// ListOffsetGroups implements pb.MetaServiceServer.
func (a *api) ListOffsetGroups(ctx context.Context, _ *pb.MetaEmpty) (*pb.GroupList, error) {
	m, err := a.meta()
	if err != nil {
		return nil, code(err)
	}
	gs, err := m.OffsetGroups(ctx)
	if err != nil {
		return nil, code(err)
	}
	return &pb.GroupList{Groups: gs}, nil
}

// groupByName finds a group by its String name.
func groupByName(name string) (raftgroups.GroupID, error) {
	for _, g := range raftgroups.Groups {
		if g.String() == name {
			return g, nil
		}
	}
	return 0, fmt.Errorf("meta: watch: group %q: not metadata, offset or mqtt: %w", name, errBadRequest)
}

// Watch implements pb.MetaServiceServer: it polls the replica's applied index every raft tick and
// sends an event when it passed the client's revision. One goroutine per stream (gRPC's); events
// are not queued, so a slow client only delays its own next poll.
func (a *api) Watch(req *pb.WatchRequest, stream pb.MetaService_WatchServer) error {
	g, err := groupByName(req.GetGroup())
	if err != nil {
		return code(err)
	}
	r, err := a.s.live()
	if err != nil {
		return code(err)
	}
	grp := r.m.Group(g)
	rev := grp.Status().Applied
	// The client saw this very revision: nothing to re-read; else (first watch, or entries applied
	// while it was away) it resyncs.
	resync := req.GetRevision() != rev
	if err := stream.Send(&pb.WatchEvent{Group: req.GetGroup(), Revision: rev, Resync: resync}); err != nil {
		return err
	}
	t := time.NewTicker(time.Duration(max(a.s.cfg.MetaRuntime.RaftTickMs, 1)) * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-a.s.stopc:
			return status.Error(codes.Unavailable, "meta: watch: node stopping")
		case <-t.C:
			if cur := grp.Status().Applied; cur > rev {
				rev = cur
				if err := stream.Send(&pb.WatchEvent{Group: req.GetGroup(), Revision: rev}); err != nil {
					return err
				}
			}
		}
	}
}

// Leaders implements pb.MetaServiceServer.
func (a *api) Leaders(context.Context, *pb.MetaEmpty) (*pb.LeaderList, error) {
	r, err := a.s.live()
	if err != nil {
		return nil, code(err)
	}
	st := r.m.Status()
	out := &pb.LeaderList{Groups: make([]*pb.GroupLeader, len(st))}
	for i, g := range st {
		out.Groups[i] = &pb.GroupLeader{Group: g.Group, Leader: g.Leader, Addr: a.s.peers[g.Leader]}
	}
	return out, nil
}
