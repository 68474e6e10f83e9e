package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawGroup drives the classic group protocol by hand.
type rawGroup struct {
	t  *testing.T
	cl *kgo.Client
}

func (g rawGroup) join(member, instance string, session, rebalance time.Duration) *kmsg.JoinGroupResponse {
	g.t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group, req.MemberID, req.ProtocolType = "sg", member, "consumer"
	if instance != "" {
		req.InstanceID = kmsg.StringPtr(instance)
	}
	req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = int32(session/time.Millisecond), int32(rebalance/time.Millisecond)
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1}}}
	return must(req.RequestWith(testCtx(g.t), g.cl))
}

func (g rawGroup) heartbeat(member string, gen int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = "sg", member, gen
	return must(req.RequestWith(testCtx(g.t), g.cl)).ErrorCode
}

func (g rawGroup) state() (string, int) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{"sg"}
	d := must(req.RequestWith(testCtx(g.t), g.cl)).Groups[0]
	return d.State, len(d.Members)
}

// TestGroupSessions: MEMBER_ID_REQUIRED, a rebalance that drops a member
// that does not rejoin in time, a session timeout emptying the group, and
// a static member taking its old place back.
func TestGroupSessions(t *testing.T) {
	b := startBroker(t, nil)
	g := rawGroup{t, b.client(t)}
	g2 := rawGroup{t, b.client(t)}

	first := g.join("", "", time.Second, time.Second)
	if first.ErrorCode != kerr.MemberIDRequired.Code || first.MemberID == "" {
		t.Fatalf("first join: code %d id %q; want MEMBER_ID_REQUIRED with an id", first.ErrorCode, first.MemberID)
	}
	a := g.join(first.MemberID, "", time.Second, time.Second)
	if a.ErrorCode != 0 || a.Generation != 1 || a.LeaderID != a.MemberID || len(a.Members) != 1 {
		t.Fatalf("join A: %+v", a)
	}
	// B joins; A only heartbeats (told to rejoin) and is dropped after the
	// rebalance timeout, so B completes alone with generation 2.
	bID := g2.join("", "", 2*time.Second, time.Second).MemberID
	done := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { done <- g2.join(bID, "", 2*time.Second, time.Second) }()
	deadline := time.Now().Add(10 * time.Second)
	for g.heartbeat(a.MemberID, 1) != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("A never told about the rebalance")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var bj *kmsg.JoinGroupResponse
	select {
	case bj = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("B's join not answered after the rebalance timeout")
	}
	if bj.ErrorCode != 0 || bj.Generation != 2 || bj.LeaderID != bID || len(bj.Members) != 1 {
		t.Fatalf("join B: code %d gen %d leader %q members %d", bj.ErrorCode, bj.Generation, bj.LeaderID, len(bj.Members))
	}
	if code := g.heartbeat(a.MemberID, 1); code != kerr.UnknownMemberID.Code {
		t.Fatalf("A after removal: code %d; want UNKNOWN_MEMBER_ID", code)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = "sg", bID, 2
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: bID, MemberAssignment: []byte("all")}}
	if s := must(sync.RequestWith(testCtx(t), g2.cl)); s.ErrorCode != 0 || string(s.MemberAssignment) != "all" {
		t.Fatalf("sync B: %+v", s)
	}
	if st, n := g.state(); st != "Stable" || n != 1 {
		t.Fatalf("state %s with %d members; want Stable with 1", st, n)
	}
	// B stops heartbeating: its 2 s session ends and the group empties.
	deadline = time.Now().Add(15 * time.Second)
	for {
		st, n := g.state()
		if st == "Empty" && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s with %d members after B's session; want Empty", st, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Static member: joins without MEMBER_ID_REQUIRED, and a restart of the
	// same instance (empty member id) takes the old place.
	s1 := g.join("", "inst-1", 5*time.Second, time.Second)
	if s1.ErrorCode != 0 {
		t.Fatalf("static join: code %d", s1.ErrorCode)
	}
	s2 := g.join("", "inst-1", 5*time.Second, time.Second)
	if s2.ErrorCode != 0 || s2.Generation != s1.Generation+1 {
		t.Fatalf("static rejoin: code %d gen %d; want gen %d", s2.ErrorCode, s2.Generation, s1.Generation+1)
	}
	if _, n := g.state(); n != 1 {
		t.Fatalf("%d members after the static rejoin; want 1", n)
	}
	leader := s2.MemberID
	if code, _ := g.sync(leader, s2.Generation, map[string]string{leader: "p1"}); code != 0 {
		t.Fatalf("leader sync: code %d", code)
	}
	// A second static member joins: the leader rejoins, both get the new
	// generation, the leader assigns.
	joined := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { joined <- g2.join("", "inst-2", 5*time.Second, time.Second) }()
	deadline = time.Now().Add(10 * time.Second)
	for g.heartbeat(leader, s2.Generation) != kerr.RebalanceInProgress.Code {
		if time.Now().After(deadline) {
			t.Fatal("leader never told about the rebalance")
		}
		time.Sleep(20 * time.Millisecond)
	}
	l3 := g.join(leader, "inst-1", 5*time.Second, time.Second)
	f3 := <-joined
	if l3.ErrorCode != 0 || f3.ErrorCode != 0 || l3.Generation != f3.Generation || l3.LeaderID != leader {
		t.Fatalf("rejoin: leader %+v follower %+v", l3, f3)
	}
	followerSync := make(chan string, 1)
	go func() { _, a := g2.sync(f3.MemberID, f3.Generation, nil); followerSync <- a }()
	if code, _ := g.sync(leader, l3.Generation, map[string]string{leader: "p1", f3.MemberID: "p2"}); code != 0 {
		t.Fatalf("leader sync: code %d", code)
	}
	if a := <-followerSync; a != "p2" {
		t.Fatalf("follower assignment %q; want p2", a)
	}
	// The follower restarts (same instance, no member id): it is answered
	// at once, in the same generation, and keeps its assignment.
	f4 := g2.join("", "inst-2", 5*time.Second, time.Second)
	if f4.ErrorCode != 0 || f4.Generation != f3.Generation || f4.MemberID == f3.MemberID {
		t.Fatalf("static follower restart: code %d gen %d id %q; want gen %d and a new id", f4.ErrorCode, f4.Generation,
			f4.MemberID, f3.Generation)
	}
	if code, a := g2.sync(f4.MemberID, f4.Generation, nil); code != 0 || a != "p2" {
		t.Fatalf("static follower sync: code %d assignment %q; want p2", code, a)
	}
	if code := g2.heartbeat(f3.MemberID, f3.Generation); code != kerr.UnknownMemberID.Code {
		t.Fatalf("old member id: code %d; want UNKNOWN_MEMBER_ID", code)
	}
}

func (g rawGroup) sync(member string, gen int32, assign map[string]string) (int16, string) {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.MemberID, req.Generation = "sg", member, gen
	for m, a := range assign {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	resp := must(req.RequestWith(testCtx(g.t), g.cl))
	return resp.ErrorCode, string(resp.MemberAssignment)
}

// TestGroupSurvivesRestart: a Stable group is written to the OffsetStore
// and a new server over the same store lets its member go on heartbeating
// and syncing in the same generation, without a rebalance.
func TestGroupSurvivesRestart(t *testing.T) {
	b := startBroker(t, nil)
	g := rawGroup{t, b.client(t)}
	j := g.join("", "", 10*time.Second, time.Second)
	j = g.join(j.MemberID, "", 10*time.Second, time.Second)
	if code, _ := g.sync(j.MemberID, j.Generation, map[string]string{j.MemberID: "mine"}); code != 0 {
		t.Fatalf("sync: code %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.s.Shutdown(ctx); err != nil { // the persister writes what is dirty before it exits
		t.Fatal(err)
	}
	b2 := startOn(t, b.r, b.offs, nil)
	g2 := rawGroup{t, b2.client(t)}
	if code := g2.heartbeat(j.MemberID, j.Generation); code != 0 {
		t.Fatalf("heartbeat after restart: code %d; want NONE", code)
	}
	if code, a := g2.sync(j.MemberID, j.Generation, nil); code != 0 || a != "mine" {
		t.Fatalf("sync after restart: code %d assignment %q; want mine", code, a)
	}
	if st, n := g2.state(); st != "Stable" || n != 1 {
		t.Fatalf("after restart: %s with %d members; want Stable with 1", st, n)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = "sg"
	if r := must(of.RequestWith(testCtx(t), g2.cl)); len(r.Topics) != 0 {
		t.Fatalf("OffsetFetch shows the group's own record: %+v", r.Topics)
	}
}
