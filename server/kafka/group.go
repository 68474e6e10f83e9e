package kafka

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"robustmq/codec/kafka"
)

// The group coordinator speaks the classic consumer-group protocol. Every
// group lives in memory under one mutex (group calls are rare next to
// produce and fetch; a striped table is the later step). Answers that wait
// for other members (JoinGroup until everyone rejoined, SyncGroup until the
// leader sent the assignments) are kept with the member and sent with
// conn.later when the group moves on. One ticker goroutine (tick) expires
// members whose session timed out and ends rebalances past their timeout:
// no goroutine or timer per member.
//
// States: Empty -> PreparingRebalance (a member joined, left or expired)
// -> CompletingRebalance (everyone joined: generation+1, leader gets the
// member list) -> Stable (leader's SyncGroup gave the assignments) ->
// PreparingRebalance ... Members with a group.instance.id (static members)
// keep their place across restarts of the client: a rejoin with the same
// instance id replaces the old member id.
//
// Committed offsets and the group state itself (members, generation,
// assignments; group_store.go) go to the OffsetStore and survive a restart.

type groupState uint8

const (
	stateEmpty groupState = iota
	statePreparing
	stateCompleting
	stateStable
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable"}

const (
	minSessionTimeout = time.Second
	maxSessionTimeout = 30 * time.Minute
	tickEvery         = 100 * time.Millisecond
)

type protocol struct {
	name string
	meta []byte
}

type member struct {
	id, instanceID     string
	clientID, host     string
	session, rebalance time.Duration
	protocols          []protocol
	assignment         []byte
	deadline           time.Time
	join               pending // JoinGroup waiting for the rebalance to complete
	sync               pending // SyncGroup waiting for the leader
}

// pending is where a parked answer goes.
type pending interface {
	answer(m kafka.Message)
}

// slotAnswer answers a request slot of a connection, from any goroutine.
type slotAnswer struct {
	c  *conn
	sl *slot
}

func (a slotAnswer) answer(m kafka.Message) { a.c.later(func() { a.c.replyLater(a.sl, m) }) }

type group struct {
	id           string
	state        groupState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	order        []string             // member ids in join order (leader choice, member lists)
	newIDs       map[string]time.Time // ids handed out with MEMBER_ID_REQUIRED, until they expire
	deadline     time.Time            // end of the current rebalance
	seq          int
}

type coordinator struct {
	s      *Server
	mu     sync.Mutex
	groups map[string]*group   // guarded by mu
	dirty  map[string]struct{} // groups to persist (group_store.go); guarded by mu; nil: not persisted
	kick   chan struct{}       // wakes the persister; one slot
}

func newCoordinator(s *Server) *coordinator {
	return &coordinator{s: s, groups: map[string]*group{}}
}

// tick runs until stop, every tickEvery.
func (co *coordinator) tick(stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			co.expire(co.s.opts.Now())
		}
	}
}

// expire removes members past their session and ends overdue rebalances.
func (co *coordinator) expire(now time.Time) {
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, g := range co.groups {
		for id, at := range g.newIDs {
			if now.After(at) {
				delete(g.newIDs, id)
			}
		}
		for _, id := range slices.Clone(g.order) {
			m := g.members[id]
			if m.join == nil && now.After(m.deadline) {
				co.remove(g, m, now)
			}
		}
		if g.state == statePreparing && now.After(g.deadline) {
			// Pick the late members first: removing the last of them
			// completes the rebalance, after which nobody waits in a join.
			var late []*member
			for _, id := range g.order {
				if m := g.members[id]; m.join == nil {
					late = append(late, m)
				}
			}
			for _, m := range late {
				co.remove(g, m, now)
			}
			co.complete(g, now)
		}
	}
}

// remove drops m from g and starts a rebalance for the others.
// REQUIRES: co.mu held.
func (co *coordinator) remove(g *group, m *member, now time.Time) {
	delete(g.members, m.id)
	g.order = slices.DeleteFunc(g.order, func(id string) bool { return id == m.id })
	if m.join != nil {
		co.answerJoin(g, m.join, kafka.UnknownMemberID, m.id)
	}
	if m.sync != nil {
		co.answerSync(m.sync, kafka.UnknownMemberID, g, nil)
	}
	if len(g.members) == 0 {
		g.state, g.leader, g.protocol = stateEmpty, "", ""
		g.generation++
		co.markDirty(g)
		return
	}
	if g.state == statePreparing {
		co.complete(g, now)
		return
	}
	co.prepare(g, now)
}

// prepare starts a rebalance: pending syncs learn about it at once, the
// others at their next heartbeat. REQUIRES: co.mu held.
func (co *coordinator) prepare(g *group, now time.Time) {
	if g.state != statePreparing {
		var longest time.Duration
		for _, m := range g.members {
			longest = max(longest, m.rebalance)
		}
		g.deadline = now.Add(longest)
	}
	g.state = statePreparing
	for _, m := range g.members {
		if m.sync != nil {
			co.answerSync(m.sync, kafka.RebalanceInProgress, g, nil)
			m.sync = nil
		}
	}
	co.complete(g, now)
}

// complete finishes a rebalance once every member rejoined.
// REQUIRES: co.mu held.
func (co *coordinator) complete(g *group, now time.Time) {
	if g.state != statePreparing {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	if len(g.members) == 0 {
		g.state = stateEmpty
		return
	}
	g.generation++
	g.protocol = co.choose(g)
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.order[0]
	}
	g.state = stateCompleting
	for _, id := range g.order {
		m := g.members[id]
		m.deadline = now.Add(m.session)
		m.assignment = nil
		co.answerJoin(g, m.join, kafka.None, m.id)
		m.join = nil
	}
}

// choose picks the first protocol of the leader-to-be's preference list
// that every member supports (JoinGroup checked that one exists).
func (co *coordinator) choose(g *group) string {
	first := g.members[g.order[0]]
	if l, ok := g.members[g.leader]; ok {
		first = l
	}
	for _, p := range first.protocols {
		all := true
		for _, m := range g.members {
			if !slices.ContainsFunc(m.protocols, func(q protocol) bool { return q.name == p.name }) {
				all = false
				break
			}
		}
		if all {
			return p.name
		}
	}
	return first.protocols[0].name
}

// answerJoin sends a JoinGroup answer on the member's connection.
func (co *coordinator) answerJoin(g *group, p pending, code kafka.ErrorCode, memberID string) {
	resp := &kafka.JoinGroupResponse{ErrorCode: int16(code), GenerationID: -1, MemberID: []byte(memberID)}
	if code == kafka.None {
		resp.GenerationID = g.generation
		resp.ProtocolType = []byte(g.protocolType)
		resp.ProtocolName = []byte(g.protocol)
		resp.Leader = []byte(g.leader)
		if memberID == g.leader {
			for _, id := range g.order {
				m := g.members[id]
				jm := kafka.JoinGroupResponseMember{MemberID: []byte(m.id)}
				if m.instanceID != "" {
					jm.GroupInstanceID = []byte(m.instanceID)
				}
				for _, pr := range m.protocols {
					if pr.name == g.protocol {
						jm.Metadata = pr.meta
					}
				}
				resp.Members = append(resp.Members, jm)
			}
		}
	}
	countErr(11, code)
	p.answer(resp)
}

// answerSync sends a SyncGroup answer on the member's connection.
func (co *coordinator) answerSync(p pending, code kafka.ErrorCode, g *group, assignment []byte) {
	resp := &kafka.SyncGroupResponse{ErrorCode: int16(code), Assignment: assignment}
	if code == kafka.None {
		resp.ProtocolType, resp.ProtocolName = []byte(g.protocolType), []byte(g.protocol)
	}
	if resp.Assignment == nil {
		resp.Assignment = []byte{}
	}
	countErr(14, code)
	p.answer(resp)
}

// joinReq is a JoinGroup copied out of the input.
type joinReq struct {
	group, member, instance, clientID, host, protocolType string
	session, rebalance                                    time.Duration
	protocols                                             []protocol
	version                                               int16
}

func (co *coordinator) join(r joinReq, p pending, now time.Time) {
	co.mu.Lock()
	defer co.mu.Unlock()
	fail := func(code kafka.ErrorCode) { co.answerJoin(nil, p, code, r.member) }
	if r.group == "" {
		fail(kafka.InvalidGroupID)
		return
	}
	if r.session < minSessionTimeout || r.session > maxSessionTimeout {
		fail(kafka.InvalidSessionTimeout)
		return
	}
	if len(r.protocols) == 0 || r.protocolType == "" {
		fail(kafka.InconsistentGroupProtocol)
		return
	}
	g := co.groups[r.group]
	if g == nil {
		if r.member != "" && r.instance == "" {
			fail(kafka.UnknownMemberID)
			return
		}
		g = &group{id: r.group, members: map[string]*member{}, newIDs: map[string]time.Time{}}
		co.groups[r.group] = g
	}
	if len(g.members) > 0 {
		if r.protocolType != g.protocolType {
			fail(kafka.InconsistentGroupProtocol)
			return
		}
		common := false
		for _, pr := range r.protocols {
			all := true
			for _, m := range g.members {
				if m.id != r.member && !slices.ContainsFunc(m.protocols, func(q protocol) bool { return q.name == pr.name }) {
					all = false
				}
			}
			common = common || all
		}
		if !common {
			fail(kafka.InconsistentGroupProtocol)
			return
		}
	}
	m := g.members[r.member]
	if m == nil && r.instance != "" {
		for _, o := range g.members {
			if o.instanceID == r.instance { // static member back: it takes the old place
				if r.member != "" && r.member != o.id {
					fail(kafka.FencedInstanceID)
					return
				}
				m = o
			}
		}
	}
	if m != nil && r.member == "" && g.state == stateStable && m.id != g.leader && sameProtocols(m.protocols, r.protocols) {
		// A static follower restarted with the same subscription: it gets
		// a new member id and its old assignment, without a rebalance
		// (KIP-345). A returning leader rebalances, so it can reassign.
		id := co.newID(g, r.clientID, now)
		delete(g.members, m.id)
		g.order[slices.Index(g.order, m.id)] = id
		m.id = id
		g.members[id] = m
		m.session, m.rebalance, m.deadline = r.session, r.rebalance, now.Add(r.session)
		co.markDirty(g)
		co.answerJoin(g, p, kafka.None, id)
		return
	}
	if m == nil {
		switch _, handed := g.newIDs[r.member]; {
		case r.member == "":
			id := co.newID(g, r.clientID, now)
			if r.version >= 4 && r.instance == "" {
				g.newIDs[id] = now.Add(r.session)
				co.answerJoin(nil, p, kafka.MemberIDRequired, id)
				return
			}
			r.member = id
		case handed:
			delete(g.newIDs, r.member)
		default:
			fail(kafka.UnknownMemberID)
			return
		}
		m = &member{id: r.member}
		g.members[m.id] = m
		g.order = append(g.order, m.id)
	}
	if m.join != nil { // a retried join replaces the parked one
		co.answerJoin(g, m.join, kafka.UnknownMemberID, m.id)
	}
	if len(g.members) == 1 {
		g.protocolType = r.protocolType
	}
	m.instanceID, m.clientID, m.host = r.instance, r.clientID, r.host
	m.session, m.rebalance, m.protocols = r.session, r.rebalance, r.protocols
	m.deadline = now.Add(r.session)
	m.join = p
	co.prepare(g, now)
}

// newID makes a member id unique within g (and across restarts: the
// clock is part of it). REQUIRES: co.mu held.
func (co *coordinator) newID(g *group, clientID string, now time.Time) string {
	g.seq++
	return clientID + "-" + strconv.Itoa(g.seq) + "-" + strconv.FormatInt(now.UnixNano(), 36)
}

// sameProtocols reports whether a and b list the same protocols with the
// same metadata, in the same order.
func sameProtocols(a, b []protocol) bool {
	return slices.EqualFunc(a, b, func(x, y protocol) bool { return x.name == y.name && string(x.meta) == string(y.meta) })
}

// syncReq is a SyncGroup copied out of the input.
type syncReq struct {
	group, member string
	generation    int32
	assignments   map[string][]byte
}

func (co *coordinator) sync(r syncReq, p pending, now time.Time) {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[r.group]
	var m *member
	if g != nil {
		m = g.members[r.member]
	}
	switch {
	case m == nil:
		co.answerSync(p, kafka.UnknownMemberID, g, nil)
	case r.generation != g.generation:
		co.answerSync(p, kafka.IllegalGeneration, g, nil)
	case g.state == statePreparing:
		co.answerSync(p, kafka.RebalanceInProgress, g, nil)
	case g.state == stateStable:
		m.deadline = now.Add(m.session)
		co.answerSync(p, kafka.None, g, m.assignment)
	default: // completing
		m.deadline = now.Add(m.session)
		m.sync = p
		if r.member != g.leader {
			return
		}
		for _, o := range g.members {
			o.assignment = r.assignments[o.id]
		}
		g.state = stateStable
		co.markDirty(g)
		for _, o := range g.members {
			if o.sync != nil {
				co.answerSync(o.sync, kafka.None, g, o.assignment)
				o.sync = nil
			}
		}
	}
}

// heartbeat checks a member's generation and extends its session.
func (co *coordinator) heartbeat(groupID, memberID string, generation int32, now time.Time) kafka.ErrorCode {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[groupID]
	if g == nil {
		return kafka.UnknownMemberID
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return kafka.UnknownMemberID
	case g.state == statePreparing:
		m.deadline = now.Add(m.session)
		return kafka.RebalanceInProgress
	case generation != g.generation:
		return kafka.IllegalGeneration
	}
	m.deadline = now.Add(m.session)
	return kafka.None
}

// leave removes members by id or instance id; it returns one code each.
func (co *coordinator) leave(groupID string, ids, instances []string, now time.Time) []kafka.ErrorCode {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[groupID]
	codes := make([]kafka.ErrorCode, len(ids))
	for i := range ids {
		var m *member
		if g != nil {
			m = g.members[ids[i]]
			if m == nil && instances[i] != "" {
				for _, o := range g.members {
					if o.instanceID == instances[i] {
						m = o
					}
				}
			}
		}
		if m == nil {
			codes[i] = kafka.UnknownMemberID
			continue
		}
		co.remove(g, m, now)
	}
	return codes
}

// commitCheck tells whether a member may commit offsets for its group:
// generation -1 with no member id is an admin commit (any group without
// members).
func (co *coordinator) commitCheck(groupID, memberID string, generation int32) kafka.ErrorCode {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[groupID]
	if generation < 0 && memberID == "" {
		if g != nil && len(g.members) > 0 {
			return kafka.IllegalGeneration
		}
		return kafka.None
	}
	if g == nil || g.members[memberID] == nil {
		return kafka.UnknownMemberID
	}
	if g.state == stateCompleting {
		return kafka.RebalanceInProgress
	}
	if generation != g.generation {
		return kafka.IllegalGeneration
	}
	return kafka.None // also while preparing: members commit before they rejoin
}

// groupView is a copy of a group for DescribeGroups and ListGroups.
type groupView struct {
	id, state, protocolType, protocol string
	members                           []member
}

func (co *coordinator) view(id string) (groupView, bool) {
	co.mu.Lock()
	defer co.mu.Unlock()
	g := co.groups[id]
	if g == nil {
		return groupView{}, false
	}
	v := groupView{id: g.id, state: stateNames[g.state], protocolType: g.protocolType, protocol: g.protocol}
	for _, mid := range g.order {
		v.members = append(v.members, *g.members[mid])
	}
	return v, true
}

func (co *coordinator) list() []groupView {
	co.mu.Lock()
	ids := make([]string, 0, len(co.groups))
	for id := range co.groups {
		ids = append(ids, id)
	}
	co.mu.Unlock()
	slices.Sort(ids)
	var out []groupView
	for _, id := range ids {
		if v, ok := co.view(id); ok {
			out = append(out, v)
		}
	}
	return out
}

// drop forgets an empty group (DeleteGroups); NON_EMPTY_GROUP otherwise.
func (co *coordinator) drop(id string) kafka.ErrorCode {
	co.mu.Lock()
	defer co.mu.Unlock()
	if g := co.groups[id]; g != nil {
		if len(g.members) > 0 {
			return kafka.NonEmptyGroup
		}
		delete(co.groups, id)
		co.markDirty(g)
	}
	return kafka.None
}
