package meta_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"robustmq/server/pb"
)

// link is a loopback TCP proxy that carries one node's traffic to one peer (raft transport,
// forwarded heartbeats): the node's meta_addrs name the link instead of the peer. While cut, the
// link forwards nothing: connections it carried are closed and new ones are accepted but held
// silent (bytes read and dropped), as a partitioned network loses packets; healing closes the held
// ones so the node reconnects through the now open link.
type link struct {
	l  net.Listener
	to string

	mu    sync.Mutex
	cut   bool                  // guarded by mu
	conns map[net.Conn]struct{} // guarded by mu: every open connection, both sides
	wg    sync.WaitGroup        // accept loop and pipes
}

func newLink(t *testing.T, to string) *link {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &link{l: l, to: to, conns: map[net.Conn]struct{}{}}
	k.wg.Go(k.accept)
	t.Cleanup(k.close)
	return k
}

func (k *link) addr() string { return k.l.Addr().String() }

func (k *link) track(c net.Conn) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conns == nil { // closed
		c.Close()
		return false
	}
	k.conns[c] = struct{}{}
	return true
}

func (k *link) untrack(c net.Conn) {
	c.Close()
	k.mu.Lock()
	delete(k.conns, c)
	k.mu.Unlock()
}

func (k *link) accept() {
	for {
		in, err := k.l.Accept()
		if err != nil {
			return
		}
		if !k.track(in) {
			continue
		}
		k.mu.Lock()
		cut := k.cut
		k.mu.Unlock()
		if cut {
			k.wg.Go(func() { io.Copy(io.Discard, in); k.untrack(in) })
			continue
		}
		out, err := net.Dial("tcp", k.to)
		if err != nil || !k.track(out) {
			k.untrack(in)
			continue
		}
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			k.untrack(dst)
			k.untrack(src)
		}
		k.wg.Go(func() { pipe(out, in) })
		k.wg.Go(func() { pipe(in, out) })
	}
}

// set cuts (true) or heals (false) the link; either way the connections it holds are closed.
func (k *link) set(cut bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cut = cut
	for c := range k.conns {
		c.Close()
	}
}

func (k *link) close() {
	k.l.Close()
	k.mu.Lock()
	for c := range k.conns {
		c.Close()
	}
	k.conns = nil
	k.mu.Unlock()
	k.wg.Wait()
}

// TestPartition cuts the network around one node of three (real processes; their traffic runs
// through links): the isolated node refuses writes within the write timeout with a clear error,
// the other two elect leaders for every group and accept writes, and after healing the isolated
// node catches up and serves every acknowledged write.
func TestPartition(t *testing.T) {
	c := newCluster(t, 3, 10000)
	links := map[[2]uint64]*link{} // from, to
	for _, from := range c.nodes {
		entries := []string{fmt.Sprintf("%d = %q", from.id, from.addr())}
		for _, to := range c.nodes {
			if to != from {
				k := newLink(t, to.addr())
				links[[2]uint64{from.id, to.id}] = k
				entries = append(entries, fmt.Sprintf("%d = %q", to.id, k.addr()))
			}
		}
		from.metaAddrs = strings.Join(entries, ", ")
		c.writeConfig(from, `["meta"]`, "")
	}
	for _, nd := range c.nodes {
		c.start(nd)
	}
	var lead map[string]uint64
	poll(t, 20*time.Second, "a leader per group", func() (err error) { lead, err = leaders(c.nodes); return err })
	a := &acked{offsets: map[int32]int64{}}
	a.write(t, dial(t, c.nodes...), "before", 3)

	// Isolate the metadata leader, so the minority side starts with a leader that must step down.
	iso := c.nodes[lead["metadata"]-1]
	var rest []*node
	for _, nd := range c.nodes {
		if nd != iso {
			rest = append(rest, nd)
		}
	}
	cut := func(v bool) {
		for ft, k := range links {
			if ft[0] == iso.id || ft[1] == iso.id {
				k.set(v)
			}
		}
	}
	cut(true)
	t0 := time.Now()

	// The isolated node refuses, within raft_write_timeout_sec (1 s) plus slack, and says why.
	minority := dial(t, iso)
	err := minority.CommitOffsets(ctxFor(t, 10*time.Second), ackGroup, []*pb.OffsetEntry{{Topic: ackTopic, Partition: 9999, Offset: 1}})
	if d := time.Since(t0); status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "timed out") || d > 3*time.Second {
		t.Fatalf("commit on the isolated node: %v after %v; want DeadlineExceeded \"timed out\" within 3s", err, d)
	}
	t1 := time.Now()
	err = minority.CreateTopic(ctxFor(t, 10*time.Second), &pb.MetaTopic{Name: "minority", Partitions: 1})
	if d := time.Since(t1); status.Code(err) != codes.DeadlineExceeded || d > 3*time.Second {
		t.Fatalf("create topic on the isolated node: %v after %v; want DeadlineExceeded within 3s", err, d)
	}

	// The majority elects a leader for every group among itself, and accepts writes.
	poll(t, 5*time.Second, "majority leaders", func() error {
		l, err := leaders(rest)
		for g, id := range l {
			if id == iso.id {
				err = errors.Join(err, fmt.Errorf("group %s: still led by the isolated node %d", g, id))
			}
		}
		return err
	})
	a.write(t, dial(t, rest...), "during", 3)
	st, err := raft(iso)
	if err != nil {
		t.Fatal(err)
	}
	for g, s := range st {
		if s.State == "StateLeader" {
			t.Fatalf("isolated node still leads group %s after the majority elected: %+v", g, s)
		}
	}

	// Heal: the isolated node catches up and serves every acknowledged write itself.
	cut(false)
	poll(t, 10*time.Second, "isolated node caught up", func() error {
		if _, err := leaders(c.nodes); err != nil {
			return err
		}
		mine, err := raft(iso)
		if err != nil {
			return err
		}
		theirs, err := raft(rest[0])
		if err != nil {
			return err
		}
		for g, s := range theirs {
			if mine[g].Applied < s.Commit {
				return fmt.Errorf("group %s: applied %d on the isolated node, commit %d on node %d", g, mine[g].Applied, s.Commit, rest[0].id)
			}
		}
		return nil
	})
	for _, nd := range c.nodes {
		a.verify(t, nd)
	}
}
