package mqtt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"robustmq/server/message"
	"robustmq/server/message/topic"
	"robustmq/shard"
)

// StateStore keeps what must survive a broker restart (see the package
// doc, "Persistence"): the Meta Service's mqtt group in a broker,
// MemoryState in tests.
type StateStore interface {
	// Save writes value under key in table; a nil value deletes the key.
	// It must not block. Saves of one key take effect in call order; a
	// store may skip a save that a later one of the same key supersedes.
	// done (may be nil) runs once, when the save (or the one superseding
	// it) is durable or failed, on another goroutine than Save's (callers
	// hold locks).
	Save(table byte, key string, value []byte, done func(error))
	// Load calls fn for every record of table, in no particular order.
	Load(table byte, fn func(key string, value []byte)) error
}

// Tables of the Meta Service's mqtt group written here.
const (
	TableSessions = 's' // client id -> session record
	TableRetained = 'r' // topic -> retained record
)

// MemoryState is a StateStore in maps: durable for the life of the value,
// which is what tests need to restart a Server over it.
type MemoryState struct {
	mu sync.Mutex
	m  map[byte]map[string][]byte // guarded by mu
}

// NewMemoryState returns an empty store.
func NewMemoryState() *MemoryState { return &MemoryState{m: map[byte]map[string][]byte{}} }

// Save implements StateStore; the change is made before Save returns,
// done runs on a goroutine of its own.
func (s *MemoryState) Save(table byte, key string, value []byte, done func(error)) {
	s.mu.Lock()
	t := s.m[table]
	if t == nil {
		t = map[string][]byte{}
		s.m[table] = t
	}
	if value == nil {
		delete(t, key)
	} else {
		t[key] = bytes.Clone(value)
	}
	s.mu.Unlock()
	if done != nil {
		go done(nil)
	}
}

// Load implements StateStore.
func (s *MemoryState) Load(table byte, fn func(key string, value []byte)) error {
	s.mu.Lock()
	t := make(map[string][]byte, len(s.m[table]))
	for k, v := range s.m[table] {
		t[k] = v
	}
	s.mu.Unlock()
	for k, v := range t {
		fn(k, v)
	}
	return nil
}

// durable is a session's persistence state, allocated at its first save
// or log append: a clean session never pays for it. Guarded by the
// session's mu.
type durable struct {
	// saved says the store has a record of the session; log is its
	// message log shard ("" none), logged the queued and in-flight
	// messages that are in it, logPending its appends not completed,
	// [logStart, logEnd) the offsets written.
	saved              bool
	log                string
	logged, logPending int
	logStart, logEnd   int64
	logReady           bool // the log shard exists (created or found)
	// savesPending counts session saves not yet durable; waitSaved are
	// the gates of logged messages waiting for them (saveSessionLocked).
	savesPending int
	waitSaved    []*message.Gate
	savedFn      func(error) // the session's onSaved, bound once
	takeAt       int64       // ms of the CONNECT the next save is the first after; 0 none (DueStore.SaveSession)
}

// dur returns s's persistence state, allocating it.
// REQUIRES: mu.
func (s *session) dur() *durable {
	if s.d == nil {
		s.d = &durable{}
	}
	return s.d
}

// logName is the session's log shard, "" for none.
// REQUIRES: mu.
func (s *session) logName() string {
	if s.d == nil {
		return ""
	}
	return s.d.log
}

// errRecord reports a stored record this version cannot read.
var errRecord = errors.New("mqtt: bad persisted record")

// Session record (frozen; strings are uvarint length + bytes):
//
//	version      byte 1
//	expiry       uint32 BE, Session Expiry Interval (s)
//	offline at   int64 BE, ms since the Unix epoch; 0 while connected
//	log          string, the session's message log shard ("" for none)
//	subs         uvarint count, then per subscription:
//	  filter       string, as subscribed (with $share/...)
//	  qos          byte
//	  flags        byte: bit 0 No Local, bit 1 Retain As Published
//	  sub id       uvarint, 5.0 Subscription Identifier (0 none)
//	will         byte 0 (none, and the record ends) or 1, then:
//	  will at      int64 BE, ms it is due; 0 when the session ends; -1
//	               for the will of the connection attached when saved
//	  delay        uint32 BE, Will Delay Interval (s)
//	  ttl          int64 BE, Message Expiry Interval in ms (0 none)
//	  retain       byte 0/1
//	  topic        string
//	  message      the rest: a retained record (below)
const sessionRecordV1 = 1

// recordLocked returns s as a session record.
// REQUIRES: mu.
func (s *session) recordLocked() sessionRecord {
	r := sessionRecord{expiry: s.expiry, offlineAt: s.offlineAt, log: s.logName(), will: s.will, willAt: s.willAt}
	if s.conn != nil { // c.will is set before the session is attached, then read only
		r.will, r.willAt = s.conn.will, -1
	}
	r.subs = make([]subRecord, 0, len(s.subs))
	for key, sb := range s.subs {
		r.subs = append(r.subs, subRecord{filter: key, opts: *sb.opts})
	}
	return r
}

// encode returns r's encoding.
func (r sessionRecord) encode() []byte {
	b := make([]byte, 0, 32+len(r.log)+32*len(r.subs))
	b = append(b, sessionRecordV1)
	b = binary.BigEndian.AppendUint32(b, r.expiry)
	b = binary.BigEndian.AppendUint64(b, uint64(r.offlineAt))
	b = appendString(b, r.log)
	b = binary.AppendUvarint(b, uint64(len(r.subs)))
	for _, sr := range r.subs {
		b = appendString(b, sr.filter)
		var flags byte
		if sr.opts.noLocal {
			flags |= 1
		}
		if sr.opts.rap {
			flags |= 2
		}
		b = append(b, sr.opts.qos, flags)
		b = binary.AppendUvarint(b, uint64(sr.opts.subID))
	}
	w := r.will
	if w == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(r.willAt))
	b = binary.BigEndian.AppendUint32(b, w.delay)
	b = binary.BigEndian.AppendUint64(b, uint64(w.ttlMs))
	var retain byte
	if w.m.Retain {
		retain = 1
	}
	b = append(b, retain)
	b = appendString(b, string(w.m.Topic))
	return append(b, encodeRetained(w.m)...)
}

// sessionRecord is a decoded session record.
type sessionRecord struct {
	expiry    uint32
	offlineAt int64
	log       string
	subs      []subRecord
	will      *will
	willAt    int64
}

type subRecord struct {
	filter string
	opts   subOpts
}

func decodeSession(b []byte) (r sessionRecord, err error) {
	d := reader{b: b}
	if v := d.byte(); v != sessionRecordV1 {
		return r, fmt.Errorf("%w: session version %d", errRecord, v)
	}
	r.expiry = uint32(d.fixed(4))
	r.offlineAt = int64(d.fixed(8))
	r.log = string(d.bytes())
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		sr := subRecord{filter: string(d.bytes())}
		sr.opts.qos = d.byte()
		flags := d.byte()
		sr.opts.noLocal, sr.opts.rap = flags&1 != 0, flags&2 != 0
		sr.opts.subID = uint32(d.uvarint())
		r.subs = append(r.subs, sr)
	}
	switch d.byte() {
	case 0:
		if d.err == nil && len(d.b) != 0 {
			d.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(d.b))
		}
	case 1:
		r.willAt = int64(d.fixed(8))
		w := &will{delay: uint32(d.fixed(4)), ttlMs: int64(d.fixed(8))}
		retain := d.byte() == 1
		t := d.bytes()
		if d.err != nil {
			break
		}
		m, err := decodeRetained(string(t), d.b)
		if err != nil {
			return r, err
		}
		m.Retain, w.m = retain, m
		r.will = w
	default:
		d.err = errors.Join(d.err, fmt.Errorf("%w: bad will flag", errRecord))
	}
	return r, d.err
}

// Retained record (frozen; strings are uvarint length + bytes, the
// topic is the key):
//
//	version        byte 1
//	qos            byte
//	flags          byte: bit 0 payload format given, bit 1 UTF-8
//	timestamp      int64 BE, ms
//	expiry         int64 BE, ms since the Unix epoch, 0 never
//	content type, response topic, correlation data   strings
//	user           uvarint count, then key, value strings
//	payload        the rest
const retainedRecordV1 = 1

func encodeRetained(m *message.Message) []byte {
	b := make([]byte, 0, 64+m.Size())
	var flags byte
	if m.HasFormat {
		flags = 1 | (m.PayloadFormat&1)<<1
	}
	b = append(b, retainedRecordV1, m.QoS, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(m.Timestamp))
	b = binary.BigEndian.AppendUint64(b, uint64(m.ExpiryMs))
	b = appendString(b, string(m.ContentType))
	b = appendString(b, string(m.ResponseTopic))
	b = appendString(b, string(m.CorrelationData))
	b = binary.AppendUvarint(b, uint64(len(m.User)))
	for _, u := range m.User {
		b = appendString(b, string(u.Key))
		b = appendString(b, string(u.Value))
	}
	return append(b, m.Payload...)
}

func decodeRetained(topic string, b []byte) (*message.Message, error) {
	d := reader{b: b}
	if v := d.byte(); v != retainedRecordV1 {
		return nil, fmt.Errorf("%w: retained version %d", errRecord, v)
	}
	m := &message.Message{Topic: []byte(topic), Retain: true}
	m.QoS = d.byte()
	flags := d.byte()
	m.HasFormat, m.PayloadFormat = flags&1 != 0, (flags>>1)&1
	m.Timestamp = int64(d.fixed(8))
	m.ExpiryMs = int64(d.fixed(8))
	m.ContentType = d.optBytes()
	m.ResponseTopic = d.optBytes()
	m.CorrelationData = d.optBytes()
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		m.User = append(m.User, message.UserProperty{Key: d.bytes(), Value: d.bytes()})
	}
	m.Payload = d.b
	if d.err != nil || m.QoS > 2 {
		return nil, errors.Join(d.err, fmt.Errorf("%w: retained %q", errRecord, topic))
	}
	return m, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes a record; the first error sticks and later reads return
// zero values.
type reader struct {
	b   []byte
	err error
}

func (d *reader) short() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: short", errRecord)
	}
	d.b = nil
}

func (d *reader) byte() byte {
	if len(d.b) < 1 {
		d.short()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *reader) fixed(n int) uint64 {
	if len(d.b) < n {
		d.short()
		return 0
	}
	var v uint64
	for _, c := range d.b[:n] {
		v = v<<8 | uint64(c)
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.short()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *reader) bytes() []byte {
	n := d.uvarint()
	if uint64(len(d.b)) < n {
		d.short()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// optBytes is bytes with "" read as nil (a property not given).
func (d *reader) optBytes() []byte {
	if v := d.bytes(); len(v) > 0 {
		return v
	}
	return nil
}

// durableRetain is the RetainStore a Server with a StateStore uses: every
// change is saved too (topics under $SYS/ are not: they are published
// again). A retained PUBLISH's acknowledgement waits for the save through
// the message's Gate, so an acknowledged retained message survives a
// crash.
type durableRetain struct {
	RetainStore
	state StateStore
	srv   *Server
	mu    sync.Mutex // orders memory and store the same way for one topic
}

var sysPrefix = []byte("$SYS/")

func (r *durableRetain) Set(m *message.Message) {
	if bytes.HasPrefix(m.Topic, sysPrefix) {
		r.RetainStore.Set(m)
		return
	}
	var rec []byte
	if len(m.Payload) > 0 {
		rec = encodeRetained(m)
	}
	var g *message.Gate
	if m.Gate != nil && m.Gate.Hold() {
		g = m.Gate
	}
	t := string(m.Topic)
	done := func(err error) {
		if err != nil {
			r.srv.saveErrors.Inc()
			r.srv.opts.Logger.Warn("mqtt: saving a retained message failed", "topic", t, "err", err)
		}
		if g != nil {
			g.Release()
		}
	}
	r.mu.Lock()
	r.RetainStore.Set(m)
	r.state.Save(TableRetained, t, rec, done)
	r.mu.Unlock()
}

// saveSessionLocked saves s when it is persistent, deletes its record
// when it was saved and no longer is.
// Called under mu, so that saves of one session reach the store in the
// order of the changes.
// REQUIRES: mu.
//
// A persistent session gets its log's name here, so the record that first
// makes it persistent names the log already. Until every save of the
// session is durable, logged messages keep their publishers' gates
// (waitSaved): a crash cannot leave an acknowledged message in a log the
// stored record does not name.
func (s *session) saveSessionLocked() {
	srv := s.srv
	if srv.state == nil || (s.expiry == 0 && (s.d == nil || !s.d.saved)) {
		return
	}
	d := s.dur()
	var rec []byte
	var expire, will *Due
	if s.expiry > 0 {
		if d.log == "" && srv.log != nil {
			d.log = message.ShardName(logPrefix + s.clientID + "/" + strconv.FormatInt(time.Now().UnixNano(), 36))
			d.logReady = false
		}
		rec = s.recordLocked().encode()
		if srv.due != nil {
			expire, will = s.duesLocked()
		}
	}
	d.saved = s.expiry > 0
	d.savesPending++
	if d.savedFn == nil {
		d.savedFn = s.onSaved
	}
	srv.saveRecord(s.clientID, rec, expire, will, d.takeAt, d.savedFn)
	d.takeAt = 0
}

// onSaved is the done callback of session saves (savedFn, bound once).
func (s *session) onSaved(err error) {
	s.mu.Lock()
	d := s.d // set: a save ran
	d.savesPending--
	var gs []*message.Gate
	last := d.savesPending == 0
	if last {
		gs, d.waitSaved = d.waitSaved, nil
	}
	s.mu.Unlock()
	for _, g := range gs {
		g.Release()
	}
	if errors.Is(err, ErrNotOwner) {
		// Another broker has the session. A save still under way may be
		// this broker's CONNECT taking it back: only the last one decides.
		if last && s.srv.release(s.clientID, s) {
			s.srv.opts.Logger.Info("mqtt: session taken over by another broker", "client_id", s.clientID)
		}
		return
	}
	s.srv.saveDone(err)
}

// saveSession locks s and saves it.
func (s *session) saveSession() {
	s.mu.Lock()
	s.saveSessionLocked()
	s.mu.Unlock()
}

// dropStateLocked deletes what s persisted: its record and its log.
// REQUIRES: mu.
func (s *session) dropStateLocked() {
	if s.d != nil && s.d.saved {
		s.d.saved = false
		s.srv.saveRecord(s.clientID, nil, nil, nil, 0, s.srv.saveDone)
	}
	s.dropLogLocked()
}

func (srv *Server) saveDoneFn(err error) {
	if err != nil {
		srv.saveErrors.Inc()
		srv.opts.Logger.Warn("mqtt: saving session state failed", "err", err)
	}
}

// Session message log: the QoS 1/2 messages an offline persistent session
// holds are appended to a shard of their own, so they survive a crash
// (see the package doc, "Persistence"). Records: Key = topic, one tag
// with the delivery (frozen: QoS byte, retain byte 0/1, Subscription
// Identifier uvarint), the rest as the hub stores messages
// (message.AppendHeaders).
const logPrefix = "$mqtt_session/"

// deliveryTag encodes p's delivery options for its log record.
func deliveryTag(p *pending) []byte {
	t := []byte{p.qos, 0}
	if p.retain {
		t[1] = 1
	}
	return binary.AppendUvarint(t, uint64(p.subID))
}

// fromLog rebuilds a logged pending message.
func fromLog(r *shard.Record) (pending, error) {
	if len(r.Tags) != 1 || len(r.Tags[0]) < 3 || r.Tags[0][0] > 2 {
		return pending{}, fmt.Errorf("%w: session log record at offset %d", errRecord, r.Offset)
	}
	t := r.Tags[0]
	id, _ := binary.Uvarint(t[2:])
	return pending{m: message.FromRecord(r.Key, r), qos: t[0], retain: t[1] == 1, subID: uint32(id), logged: true}, nil
}

// logLocked appends p to the session's log unless it is there already; a
// held gate keeps the publisher's acknowledgement until the append is
// durable.
// REQUIRES: mu.
func (s *session) logLocked(p *pending) {
	srv := s.srv
	if p.logged || p.qos == 0 || srv.log == nil || s.expiry == 0 {
		return
	}
	d := s.dur()
	if d.log == "" {
		s.saveSessionLocked() // names the log
	}
	if !d.logReady {
		err := srv.log.CreateShard(shard.ShardConfig{Name: d.log, Engine: srv.hub.Engine()})
		if err != nil && !errors.Is(err, shard.ErrShardExists) {
			srv.saveErrors.Inc()
			srv.opts.Logger.Warn("mqtt: creating a session log failed", "client_id", s.clientID, "err", err)
			return
		}
		d.logReady = true
	}
	p.logged = true
	d.logged++
	d.logPending++
	var g *message.Gate
	if p.m.Gate != nil && p.m.Gate.Hold() {
		g = p.m.Gate
	}
	if d.savesPending > 0 && p.m.Gate != nil && p.m.Gate.Hold() {
		d.waitSaved = append(d.waitSaved, p.m.Gate)
	}
	rec := [1]shard.Record{{Timestamp: p.m.Timestamp, Key: p.m.Topic, Tags: [][]byte{deliveryTag(p)},
		Headers: message.AppendHeaders(nil, p.m), Value: p.m.Payload}}
	name := d.log
	// The callback may run inside AppendAsync (memory engine), where mu is
	// held: then it only records the result and the caller finishes it.
	var (
		state     atomic.Int32 // 0 appending, 1 returned, 2 completed inline
		first     int64
		appendErr error
	)
	finish := func(first int64, err error) { // REQUIRES: mu
		if err != nil {
			srv.saveErrors.Inc()
			srv.opts.Logger.Warn("mqtt: session log append failed", "client_id", s.clientID, "err", err)
		}
		if d := s.d; d != nil && d.log == name {
			d.logPending--
			if err == nil {
				d.logEnd = max(d.logEnd, first+1)
			}
			s.trimLogLocked()
		}
	}
	srv.log.AppendAsync(name, rec[:], shard.AppendOptions{Durability: shard.DurabilitySync, FailFast: true},
		func(f int64, err error) {
			first, appendErr = f, err
			if !state.CompareAndSwap(0, 2) {
				s.mu.Lock()
				finish(f, err)
				s.mu.Unlock()
			}
			if g != nil {
				g.Release()
			}
		})
	if !state.CompareAndSwap(0, 1) {
		finish(first, appendErr)
	}
}

// forgetLocked notes that p left the session for good (acknowledged,
// dropped, expired).
// REQUIRES: mu.
func (s *session) forgetLocked(p *pending) {
	if !p.logged {
		return
	}
	p.logged = false
	s.d.logged-- // set: p was logged
	s.trimLogLocked()
}

// trimLogLocked empties the log once nothing in it is still held by the
// session and every append finished.
// REQUIRES: mu.
func (s *session) trimLogLocked() {
	if d := s.d; d != nil && d.logged == 0 && d.logPending == 0 && d.logEnd > d.logStart {
		s.srv.logJob(logJob{name: d.log, before: d.logEnd})
		d.logStart = d.logEnd
	}
}

// dropLogLocked forgets the log and has its shard deleted.
// REQUIRES: mu.
func (s *session) dropLogLocked() {
	d := s.d
	if d == nil {
		return
	}
	if d.log != "" {
		s.srv.logJob(logJob{name: d.log, delete: true})
	}
	d.log, d.logReady, d.logged, d.logPending, d.logStart, d.logEnd = "", false, 0, 0, 0, 0
}

// logJob is a log truncation or deletion, done by the log goroutine off
// the event loops.
type logJob struct {
	name   string
	before int64 // DeleteRecords(name, before)
	delete bool  // DeleteShard(name)
}

// logJob queues j; when the queue is full the job is dropped and counted
// (a truncation is redone by the next one, a log left behind is deleted
// at the next start as an orphan).
func (srv *Server) logJob(j logJob) {
	select {
	case srv.logJobs <- j:
	default:
		srv.saveErrors.Inc()
	}
}

// logLoop runs the log jobs until Close; jobs left then are dropped.
func (srv *Server) logLoop() {
	for {
		var j logJob
		select {
		case j = <-srv.logJobs:
		case <-srv.logStop:
			return
		}
		var err error
		if j.delete {
			err = srv.log.DeleteShard(j.name)
			if errors.Is(err, shard.ErrShardNotFound) {
				err = nil
			}
		} else {
			err = srv.log.DeleteRecords(j.name, j.before)
		}
		if err != nil {
			srv.saveErrors.Inc()
			srv.opts.Logger.Warn("mqtt: session log maintenance failed", "shard", j.name, "err", err)
		}
	}
}

// Restore loads the retained messages and the persistent sessions (with
// their subscriptions and logged messages) saved by an earlier run, and
// deletes session logs no session names. Call it once, after New and
// before the listeners accept clients. It fails only when the store
// cannot be read; records it cannot use are skipped with a warning.
func (srv *Server) Restore() error {
	if srv.state == nil {
		return nil
	}
	var errs []error
	retained := 0
	err := srv.state.Load(TableRetained, func(t string, v []byte) {
		m, err := decodeRetained(t, v)
		if err != nil {
			errs = append(errs, err)
			return
		}
		srv.retain.(*durableRetain).RetainStore.Set(m)
		retained++
	})
	if err != nil {
		return fmt.Errorf("mqtt: restore retained messages: %w", err)
	}
	logs := map[string]bool{}
	sessions, queued := 0, 0
	var wills []*will // due while the broker was down: published once all sessions are back
	err = srv.state.Load(TableSessions, func(clientID string, v []byte) {
		r, err := decodeSession(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("client %q: %w", clientID, err))
			return
		}
		logs[r.log] = true
		if srv.due != nil && !srv.due.Owned(clientID) {
			return // another broker's
		}
		n, due, err := srv.restoreSession(clientID, r)
		errs = append(errs, err)
		if due != nil {
			wills = append(wills, due)
		}
		sessions++
		queued += n
	})
	if err != nil {
		return fmt.Errorf("mqtt: restore sessions: %w", err)
	}
	if srv.log != nil {
		infos, err := srv.log.ListShards()
		errs = append(errs, err)
		for _, in := range infos {
			if strings.HasPrefix(in.Config.Name, logPrefix) && !logs[in.Config.Name] {
				srv.logJob(logJob{name: in.Config.Name, delete: true})
			}
		}
	}
	for _, w := range wills {
		srv.publishWill(w)
	}
	srv.opts.Logger.Info("mqtt: restored state", "retained", retained, "sessions", sessions, "queued_messages", queued,
		"wills_published", len(wills))
	if err := errors.Join(errs...); err != nil {
		srv.saveErrors.Inc()
		srv.opts.Logger.Warn("mqtt: restore: records skipped or incomplete", "err", err)
	}
	return nil
}

// restoreSession rebuilds one offline session and returns how many
// logged messages it queued and its will if that is due already (the
// session ended, or the will's delay passed, while the broker was down).
func (srv *Server) restoreSession(clientID string, r sessionRecord) (int, *will, error) {
	now := srv.hub.Now()
	offlineAt := r.offlineAt
	if offlineAt == 0 { // it was connected when the broker stopped
		offlineAt = now
	}
	left := time.Duration(r.expiry) * time.Second
	if r.expiry != 0xFFFFFFFF {
		left -= time.Duration(now-offlineAt) * time.Millisecond
	}
	st := srv.sessions.stripe(clientID)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.m[clientID] != nil {
		return 0, nil, fmt.Errorf("mqtt: restore: session %q exists", clientID)
	}
	s := newSession(srv, clientID)
	s.expiry, s.offlineAt = r.expiry, offlineAt
	s.d = &durable{saved: true, log: r.log}
	s.will, s.willAt = r.will, r.willAt
	s.mu.Lock()
	defer s.mu.Unlock()
	if left <= 0 && r.expiry != 0xFFFFFFFF {
		s.dropStateLocked()
		return 0, r.will, nil
	}
	st.m[clientID] = s
	var errs []error
	for _, sr := range r.subs {
		f, err := topic.ParseFilter([]byte(sr.filter), topic.MQTT, nil)
		if err == nil {
			o := sr.opts
			err = srv.hub.Index().Subscribe(f, topic.Subscriber{ID: s.id, Target: s}, &o)
			if err == nil {
				if s.subs == nil {
					s.subs = map[string]*sub{}
				}
				s.subs[sr.filter] = &sub{f: f, opts: &o}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("mqtt: restore %q subscription %q: %w", clientID, sr.filter, err))
		}
	}
	n, err := s.loadLogLocked()
	errs = append(errs, err)
	var due *will
	if s.willAt == -1 { // the broker stopped under the connection: as if it closed now
		w := s.will
		switch s.willAt = 0; {
		case w.delay == 0:
			due, s.will = w, nil
		case w.delay < r.expiry:
			s.willAt = now + int64(w.delay)*1000
		}
	}
	switch {
	case s.will == nil || s.willAt == 0: // none, or published when the session ends
	case s.willAt <= now:
		due, s.will, s.willAt = s.will, nil, 0
	default:
		s.willAfterLocked(time.Duration(s.willAt-now) * time.Millisecond)
	}
	if r.will != nil || r.offlineAt == 0 {
		s.saveSessionLocked() // the will and the offline time as they are now
	}
	if r.expiry != 0xFFFFFFFF {
		s.expireAfterLocked(left)
	}
	return n, due, errors.Join(errs...)
}

// loadLogLocked queues the messages of the session's log.
// REQUIRES: mu.
func (s *session) loadLogLocked() (int, error) {
	lg, d := s.srv.log, s.d
	if d == nil || d.log == "" || lg == nil {
		return 0, nil
	}
	off, err := lg.EarliestOffset(d.log)
	if errors.Is(err, shard.ErrShardNotFound) {
		d.log = ""
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d.logStart = off
	n := 0
	for {
		res, err := lg.Read(d.log, off, 256, 1<<20)
		if err != nil {
			return n, fmt.Errorf("mqtt: read session log %s: %w", d.log, err)
		}
		for i := range res.Records {
			p, err := fromLog(&res.Records[i])
			if err != nil {
				res.Release()
				return n, err
			}
			d.logged++
			if old, dropped := s.queue.Push(p); dropped {
				s.forgetLocked(&old)
			}
			n++
		}
		off = res.Next
		latest := res.Latest
		res.Release()
		if off >= latest {
			d.logEnd = latest
			return n, nil
		}
	}
}
