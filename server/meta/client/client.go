// Package client is the Go client of the Meta Service (server/pb/meta.proto) for brokers, storage
// engines and tools. It knows every meta node (meta_addrs) and sends each call to one of them; any
// node serves any call (followers forward writes to the leader through raft and read with
// ReadIndex), so the client does not track leaders. A call that failed with Unavailable (the node
// is down, stopping or not started: the request never reached raft) moves to the next node and is
// tried again there until its context ends; other errors, DeadlineExceeded included ("outcome
// unknown"), are returned to the caller, who decides whether a retry is safe.
//
// Goroutines: the commit drainers (commit.go: started on demand while commits are queued, ended
// by Close), and those the caller starts with Watch and Beat, which end with their context.
// Methods are safe from any goroutine.
package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"robustmq/server/pb"
)

// Client calls the Meta Service on a set of nodes.
type Client struct {
	addrs []string
	conns []*grpc.ClientConn
	apis  []pb.MetaServiceClient
	cur   atomic.Uint32 // index of the node calls go to first
	retry time.Duration

	leader    [len(groups)]atomic.Int32 // per group: index into apis of its leader, -1 unknown
	refreshed atomic.Int64              // unix ns of the last leader refresh (claimed by CAS)

	commits committer // CommitOffsets coalescing (commit.go)
}

// groups are the raft groups by name, in raftgroups' order.
var groups = [...]string{"metadata", "offset", "mqtt"}

const (
	groupMetadata = iota
	groupOffset
)

// refreshEvery bounds how often the client asks for the leaders.
const refreshEvery = time.Second

// New connects (lazily) to the meta nodes at addrs (host:grpc_port).
func New(addrs ...string) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("meta/client: no meta node address")
	}
	c := &Client{addrs: addrs, retry: 20 * time.Millisecond}
	c.commits.init()
	for i := range c.leader {
		c.leader[i].Store(-1)
	}
	for _, a := range addrs {
		cc, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("meta/client: node %s: %w", a, err)
		}
		c.conns = append(c.conns, cc)
		c.apis = append(c.apis, pb.NewMetaServiceClient(cc))
	}
	return c, nil
}

// Close ends the calls of queued commits, waits for their senders, and closes every connection.
func (c *Client) Close() {
	c.commits.close()
	for _, cc := range c.conns {
		cc.Close()
	}
}

// Call runs fn against a node, moving to the next node while fn fails with Unavailable (after one
// round over every node it waits a little before the next round) until ctx ends.
func (c *Client) Call(ctx context.Context, fn func(ctx context.Context, api pb.MetaServiceClient) error) error {
	for tries := 0; ; tries++ {
		cur := c.cur.Load()
		err := fn(ctx, c.apis[cur%uint32(len(c.apis))])
		if status.Code(err) != codes.Unavailable {
			return err
		}
		c.cur.CompareAndSwap(cur, cur+1) // concurrent failures on one node move on once
		if tries%len(c.apis) == len(c.apis)-1 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("meta/client: no meta node answered (%v): %w", c.addrs, err)
			case <-time.After(c.retry):
			}
		} else if ctx.Err() != nil {
			return err
		}
	}
}

// callGroup runs fn on the leader of group g when known, else as Call.
func (c *Client) callGroup(ctx context.Context, g int, fn func(ctx context.Context, api pb.MetaServiceClient) error) error {
	c.maybeRefresh(ctx)
	if i := c.leader[g].Load(); i >= 0 {
		err := fn(ctx, c.apis[i])
		if status.Code(err) != codes.Unavailable {
			return err
		}
		c.leader[g].CompareAndSwap(i, -1)
	}
	return c.Call(ctx, fn)
}

// maybeRefresh asks for the leaders if refreshEvery passed since the last time; one caller does it
// (the CAS winner), the others go on with what is known.
func (c *Client) maybeRefresh(ctx context.Context) {
	now := time.Now().UnixNano()
	last := c.refreshed.Load()
	if now-last < int64(refreshEvery) || !c.refreshed.CompareAndSwap(last, now) {
		return
	}
	var ls *pb.LeaderList
	err := c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		ls, err = api.Leaders(ctx, &pb.MetaEmpty{})
		return err
	})
	if err != nil {
		return
	}
	for _, gl := range ls.GetGroups() {
		if g := slices.Index(groups[:], gl.GetGroup()); g >= 0 {
			c.leader[g].Store(int32(slices.Index(c.addrs, gl.GetAddr()))) // -1: not a known address
		}
	}
}

// Put sets key in KV namespace ns.
func (c *Client) Put(ctx context.Context, ns string, key, value []byte) error {
	return c.callGroup(ctx, groupMetadata, func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.Put(ctx, &pb.KVRequest{Table: ns, Key: key, Value: value})
		return err
	})
}

// Get reads key in KV namespace ns.
func (c *Client) Get(ctx context.Context, ns string, key []byte) (value []byte, found bool, err error) {
	err = c.callGroup(ctx, groupMetadata, func(ctx context.Context, api pb.MetaServiceClient) error {
		v, err := api.Get(ctx, &pb.KVRequest{Table: ns, Key: key})
		value, found = v.GetValue(), v.GetFound()
		return err
	})
	return value, found, err
}

// List returns KV namespace ns's pairs under prefix, by key.
func (c *Client) List(ctx context.Context, ns string, prefix []byte) ([]*pb.KVPair, error) {
	var out []*pb.KVPair
	err := c.callGroup(ctx, groupMetadata, func(ctx context.Context, api pb.MetaServiceClient) error {
		r, err := api.List(ctx, &pb.KVRequest{Table: ns, Key: prefix})
		out = r.GetItems()
		return err
	})
	return out, err
}

// NSDropped is the metadata KV namespace of deleted topics' tombstones: topic name -> deletion id
// (8 bytes, unique per deletion), written when the topic is deleted and removed when a topic of
// that name is created again. An engine node drops its local shards of a tombstoned topic
// (TopicShard) once per deletion: it records the deletion id it handled under NSDroppedAck, so a
// topic that a broker creates again locally afterwards keeps its new data.
const NSDropped = "meta.dropped"

// TableVersion is an MQTT table of the mqtt group (frozen): key the name of a set of tables
// ("auth": users, ACL, blacklist), value an opaque token that every write to them replaces in the
// same transaction. The group's Watch reports every change of the group; a follower of a few
// tables compares the token and re-reads them only when it moved.
const TableVersion = "v"

// NSDroppedAck is the namespace of the deletions engine nodes handled: "<node id>/<topic>" ->
// the deletion id (NSDropped's value) whose shards that node dropped.
const NSDroppedAck = "meta.dropped-ack"

// TopicShard tells whether shard name (shard.Name's "{topic}_{partition}") is a partition of topic:
// topic, '_', then decimal digits only. It is unambiguous although topics may contain '_': topic
// "a_1"'s shards are "a_1_<p>", never "a_<digits>".
func TopicShard(name, topic string) bool {
	p, ok := strings.CutPrefix(name, topic+"_")
	if !ok || p == "" {
		return false
	}
	for i := range len(p) {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// FetchOffsets reads committed offsets (-1: never committed).
func (c *Client) FetchOffsets(ctx context.Context, group string, parts []*pb.OffsetEntry) ([]*pb.OffsetEntry, error) {
	var out []*pb.OffsetEntry
	err := c.callGroup(ctx, groupOffset, func(ctx context.Context, api pb.MetaServiceClient) error {
		r, err := api.FetchOffsets(ctx, &pb.FetchOffsetsRequest{Group: group, Partitions: parts})
		out = r.GetOffsets()
		return err
	})
	return out, err
}

// CreateTopic creates t (AlreadyExists if present).
func (c *Client) CreateTopic(ctx context.Context, t *pb.MetaTopic) error {
	return c.callGroup(ctx, groupMetadata, func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.CreateTopic(ctx, t)
		return err
	})
}

// Topics lists every topic.
func (c *Client) Topics(ctx context.Context) ([]*pb.MetaTopic, error) {
	var out []*pb.MetaTopic
	err := c.callGroup(ctx, groupMetadata, func(ctx context.Context, api pb.MetaServiceClient) error {
		r, err := api.ListTopics(ctx, &pb.MetaEmpty{})
		out = r.GetTopics()
		return err
	})
	return out, err
}

// Beat registers node n and then heartbeats every interval until ctx ends; it is what a broker or
// engine that is not a meta node runs (in its own goroutine) to be listed and kept alive. Each
// beat may take one interval (over every node); failed beats are retried on the next interval,
// and onErr (may be nil) hears about them.
func (c *Client) Beat(ctx context.Context, n *pb.MetaNode, interval time.Duration, onErr func(error)) {
	registered := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, interval)
		var err error
		if !registered {
			err = c.Call(bctx, func(ctx context.Context, api pb.MetaServiceClient) error {
				_, err := api.RegisterNode(ctx, n)
				return err
			})
			registered = err == nil
		} else {
			err = c.Call(bctx, func(ctx context.Context, api pb.MetaServiceClient) error {
				_, err := api.Heartbeat(ctx, &pb.HeartbeatRequest{Id: n.GetId()})
				return err
			})
		}
		cancel()
		if err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Watch follows group ("metadata", "offset", "mqtt") until ctx ends, calling onEvent on every
// event; resync asks the caller to re-read everything it caches of the group. A broken stream is
// reopened on the next node with the last revision, so the server tells whether anything was
// applied meanwhile (then resync is true). When a whole round over the nodes fails, the next
// round waits, from the client's retry pause doubling up to maxWatchBackoff, and back to the
// retry pause once a stream delivered an event. onEvent runs on Watch's goroutine.
func (c *Client) Watch(ctx context.Context, group string, onEvent func(revision uint64, resync bool)) error {
	var rev uint64
	wait := c.retry
	for n := 0; ; n++ {
		events := 0
		err := func() error {
			st, err := c.apis[n%len(c.apis)].Watch(ctx, &pb.WatchRequest{Group: group, Revision: rev})
			if err != nil {
				return err
			}
			for {
				ev, err := st.Recv()
				if err != nil {
					return status.Error(codes.Unavailable, err.Error()) // reconnect, maybe elsewhere
				}
				events++
				rev = ev.GetRevision()
				onEvent(rev, ev.GetResync())
			}
		}()
		if ctx.Err() != nil {
			return nil
		}
		if status.Code(err) != codes.Unavailable {
			return err
		}
		if events > 0 {
			wait = c.retry
		}
		if n%len(c.apis) == len(c.apis)-1 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, maxWatchBackoff)
		}
	}
}

// maxWatchBackoff bounds Watch's pause between failed rounds over the nodes.
const maxWatchBackoff = time.Second
