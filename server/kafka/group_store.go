package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/shard"
)

// Group state survives a restart: whenever a group becomes Stable or Empty
// (and when a static member takes a new id) it is marked dirty, and one
// persister goroutine writes the current state of every dirty group into
// the OffsetStore, under the reserved topic metaTopic (a name no client can
// use: Kafka topic names have no NUL), partition 0, as the entry's
// metadata. Writing the state as it is when the persister runs (not a
// snapshot queued per change) keeps the store at the latest state whatever
// the order of changes, and bounds the queue by the number of groups. New
// loads every group back as it was (Stable with its members, generation
// and assignments; sessions restart from the load), so consumers keep
// heartbeating across a broker restart without a rebalance.
//
// Group record (frozen; strings and bytes are uvarint length + bytes,
// numbers uvarint):
//
//	version        byte  1
//	generation     uvarint
//	protocol type  string
//	protocol       string
//	leader         string (member id)
//	members        uvarint count, then per member:
//	  id, instance id, client id, host   strings
//	  session ms, rebalance ms           uvarint
//	  assignment                         bytes
//	  protocols                          uvarint count, then name string, metadata bytes

const (
	metaTopic         = "\x00group"
	groupRecordFormat = 1
)

var groupPersistErrors = metrics.GetOrCreateCounter(`robustmq_kafka_group_persist_errors_total`)

// markDirty queues g for the persister. REQUIRES: co.mu held.
func (co *coordinator) markDirty(g *group) {
	if co.dirty == nil {
		return // no persister (datadriven tests)
	}
	co.dirty[g.id] = struct{}{}
	select {
	case co.kick <- struct{}{}:
	default:
	}
}

// persist runs until stop, writing dirty groups; a last pass at stop
// writes what is still dirty.
func (co *coordinator) persist(store shard.OffsetStore, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-co.kick:
			co.flushDirty(store)
		case <-stop:
			co.flushDirty(store)
			return
		}
	}
}

func (co *coordinator) flushDirty(store shard.OffsetStore) {
	co.mu.Lock()
	ids := make([]string, 0, len(co.dirty))
	for id := range co.dirty {
		ids = append(ids, id)
	}
	clear(co.dirty)
	co.mu.Unlock()
	for _, id := range ids {
		co.mu.Lock()
		var rec []byte
		if g := co.groups[id]; g != nil {
			rec = encodeGroup(g)
		}
		co.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		if rec == nil {
			err = store.DeleteTopic(ctx, id, metaTopic)
		} else {
			err = store.Commit(ctx, id, []shard.GroupOffset{{Topic: metaTopic, Metadata: string(rec)}})
		}
		cancel()
		if err != nil {
			groupPersistErrors.Inc()
			co.s.log.Warn("kafka: persist group", "group", id, "err", err)
		}
	}
}

func appendStr(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// encodeGroup writes g's record. REQUIRES: co.mu held.
func encodeGroup(g *group) []byte {
	b := []byte{groupRecordFormat}
	b = binary.AppendUvarint(b, uint64(uint32(g.generation)))
	b = appendStr(b, g.protocolType)
	b = appendStr(b, g.protocol)
	b = appendStr(b, g.leader)
	b = binary.AppendUvarint(b, uint64(len(g.order)))
	for _, id := range g.order {
		m := g.members[id]
		b = appendStr(b, m.id)
		b = appendStr(b, m.instanceID)
		b = appendStr(b, m.clientID)
		b = appendStr(b, m.host)
		b = binary.AppendUvarint(b, uint64(m.session.Milliseconds()))
		b = binary.AppendUvarint(b, uint64(m.rebalance.Milliseconds()))
		b = appendStr(b, string(m.assignment))
		b = binary.AppendUvarint(b, uint64(len(m.protocols)))
		for _, p := range m.protocols {
			b = appendStr(b, p.name)
			b = appendStr(b, string(p.meta))
		}
	}
	return b
}

var errGroupRecord = errors.New("kafka: corrupt group record")

// groupReader reads a group record; the first failure sticks.
type groupReader struct {
	b   []byte
	err error
}

func (r *groupReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errGroupRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *groupReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errGroupRecord, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodeGroup rebuilds a group from its record; members' sessions start at
// now.
func decodeGroup(id string, rec []byte, now time.Time) (*group, error) {
	if len(rec) == 0 || rec[0] != groupRecordFormat {
		return nil, errGroupRecord
	}
	r := groupReader{b: rec[1:]}
	g := &group{id: id, members: map[string]*member{}, newIDs: map[string]time.Time{}}
	g.generation = int32(uint32(r.uvarint()))
	g.protocolType, g.protocol, g.leader = r.str(), r.str(), r.str()
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		m := &member{id: r.str(), instanceID: r.str(), clientID: r.str(), host: r.str()}
		m.session = time.Duration(r.uvarint()) * time.Millisecond
		m.rebalance = time.Duration(r.uvarint()) * time.Millisecond
		if a := r.str(); a != "" {
			m.assignment = []byte(a)
		}
		for k := r.uvarint(); k > 0 && r.err == nil; k-- {
			m.protocols = append(m.protocols, protocol{name: r.str(), meta: []byte(r.str())})
		}
		m.deadline = now.Add(m.session)
		g.members[m.id] = m
		g.order = append(g.order, m.id)
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(g.members) > 0 {
		g.state = stateStable
	}
	return g, nil
}

// load reads every persisted group back (New, before serving).
func (co *coordinator) load(store shard.OffsetStore, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := store.ListGroups(ctx)
	if err != nil {
		return errors.New("kafka: load groups: " + err.Error())
	}
	for _, id := range ids {
		offs, err := store.Fetch(ctx, id, metaTopic)
		if err != nil {
			return errors.New("kafka: load group " + strconv.Quote(id) + ": " + err.Error())
		}
		if len(offs) == 0 {
			continue
		}
		g, err := decodeGroup(id, []byte(offs[0].Metadata), now)
		if err != nil {
			co.s.log.Warn("kafka: skipping unreadable group state", "group", id, "err", err)
			continue
		}
		co.groups[id] = g
	}
	return nil
}
