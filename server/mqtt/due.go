package mqtt

import (
	"errors"
	"fmt"

	"robustmq/codec/mqtt"
)

// Due is when a persistent session ends or its delayed will is
// published, as a DueStore keeps it beside the session record.
type Due struct {
	At   int64 // ms since the Unix epoch; 0: not while this broker runs (see Lost)
	Lost int64 // with At 0: ms after this broker is lost (dies, or is cut off) that it falls due; -1 never
}

// ErrNotOwner fails a session save of a broker that no longer owns the
// session (DueStore.SaveSession): the server then gives the session up.
var ErrNotOwner = errors.New("mqtt: another broker took the session over")

// Kinds of due time, as FireDue and FireRecord take them.
const (
	DueExpiry byte = 'e' // the session ends (and publishes its will, if one is pending)
	DueWill   byte = 'w' // the session's delayed will is published
)

// DueStore is a StateStore that also keeps when sessions end and when
// their delayed wills are due, for a scheduler outside the server: the
// Meta Service's controller, which may act after this broker is gone.
// With a DueStore the server runs no expiry or will timers: the
// scheduler calls FireDue on the broker holding the session, or has
// another broker act on the stored record (FireRecord) when that one is
// lost.
type DueStore interface {
	StateStore
	// SaveSession is Save(TableSessions, clientID, rec, done) that also
	// sets the session's due times in the same atomic write: expire and
	// will, nil for none. A nil rec deletes the record and both.
	// takeAt marks the first save after a CONNECT (ms of the CONNECT; 0
	// for other saves): the session becomes this broker's and a broker
	// that held it before is told to Release it, unless another broker
	// saw a later CONNECT of it. A save fails with ErrNotOwner, changing
	// nothing, when the session is another broker's.
	SaveSession(clientID string, rec []byte, expire, will *Due, takeAt int64, done func(error))
	// Owned reports whether a session record Load returned belongs to
	// this broker (or to no broker); Restore skips the others.
	Owned(clientID string) bool
}

// saveRecord writes a session record (nil deletes it) with its due times
// when the store keeps them.
func (srv *Server) saveRecord(clientID string, rec []byte, expire, will *Due, takeAt int64, done func(error)) {
	if srv.due != nil {
		srv.due.SaveSession(clientID, rec, expire, will, takeAt, done)
		return
	}
	srv.state.Save(TableSessions, clientID, rec, done)
}

// duesLocked returns s's due times: while a connection is attached they
// count from the broker's loss (the connection dies with it); offline,
// from when it left.
// REQUIRES: mu.
func (s *session) duesLocked() (expire, will *Due) {
	never := s.expiry == 0xFFFFFFFF
	expiryMs := int64(s.expiry) * 1000
	if s.conn != nil {
		expire = &Due{Lost: expiryMs}
		if never {
			expire.Lost = -1
		}
		if w := s.conn.will; w != nil {
			d := int64(w.delay) * 1000
			if !never {
				d = min(d, expiryMs)
			}
			will = &Due{Lost: d}
		}
		return expire, will
	}
	expire = &Due{At: s.offlineAt + expiryMs}
	if never {
		expire = &Due{Lost: -1}
	}
	if s.will != nil && s.willAt > 0 {
		will = &Due{At: s.willAt}
	}
	return expire, will
}

// FireDue acts on due time at of kind (DueExpiry, DueWill) for the
// session of clientID, handed over by the DueStore's scheduler: it ends
// the session or publishes its delayed will. A due time the session no
// longer has (it reconnected, or changed since) is stale: the session is
// saved again, so the store has its current due times. FireDue reports
// whether this server holds the session; when it does not, the caller
// acts on the stored record with FireRecord.
func (srv *Server) FireDue(kind byte, clientID string, at int64) bool {
	s := srv.sessions.get(clientID)
	if s == nil {
		return false
	}
	s.mu.Lock()
	expire, will := s.duesLocked()
	switch {
	case kind == DueExpiry && expire.At == at && at != 0:
		s.mu.Unlock()
		s.end()
	case kind == DueWill && will != nil && will.At == at && at != 0:
		pw := s.takeWillLocked()
		s.mu.Unlock()
		srv.publishWill(pw)
	default:
		s.saveSessionLocked()
		s.mu.Unlock()
	}
	return true
}

// FireRecord acts on a due time of a session no broker holds any more
// (its broker was lost), from rec, its stored record: DueExpiry ends the
// session, DueWill takes its will out. It returns the record to store in
// rec's place (nil: delete it and its due times) and the work to do
// once that is stored: publishing the will, deleting the message log.
// The caller stores next only if the record is still rec (a compare),
// so that a will is published once.
func (srv *Server) FireRecord(kind byte, clientID string, rec []byte) (next []byte, after func(), err error) {
	r, err := decodeSession(rec)
	if err != nil {
		return nil, nil, fmt.Errorf("mqtt: client %q: %w", clientID, err)
	}
	w := r.will
	switch kind {
	case DueExpiry:
		return nil, func() {
			if r.log != "" && srv.log != nil {
				srv.logJob(logJob{name: r.log, delete: true})
			}
			srv.publishWill(w)
		}, nil
	case DueWill:
		if w == nil {
			return rec, func() {}, nil
		}
		r.will, r.willAt = nil, 0
		if r.offlineAt == 0 { // its broker was lost with the connection attached
			r.offlineAt = srv.hub.Now()
		}
		return r.encode(), func() { srv.publishWill(w) }, nil
	}
	return nil, nil, fmt.Errorf("mqtt: client %q: due kind %q: %w", clientID, kind, errRecord)
}

// Release gives up the session of clientID, which another broker took
// over (a CONNECT there): the session leaves this server and its saved
// state is left to the new owner; an attached connection is closed with
// 0x8E Session taken over and shared subscriptions' messages go to other
// members. The caller has read that this broker is not the owner any
// more. Release returns false, doing nothing, while a save of the
// session is under way (it may be this broker taking the session back):
// ask again once it is done.
func (srv *Server) Release(clientID string) bool { return srv.release(clientID, nil) }

// release is Release of clientID's session, or only of session only
// when it is not nil.
func (srv *Server) release(clientID string, only *session) bool {
	st := srv.sessions.stripe(clientID)
	st.mu.Lock()
	s := st.m[clientID]
	if s == nil || only != nil && s != only {
		st.mu.Unlock()
		return true
	}
	s.mu.Lock()
	if s.d != nil && s.d.savesPending > 0 {
		s.mu.Unlock()
		st.mu.Unlock()
		return false
	}
	delete(st.m, clientID)
	c := s.conn
	s.conn, s.d = nil, nil // the record and the log are the new owner's
	shared := s.sharedLocked()
	s.clearLocked()
	s.mu.Unlock()
	st.mu.Unlock()
	if c != nil { // its closed() finds the session orphaned and clears what came in meanwhile
		c.kick(mqtt.ReasonSessionTakenOver, errTakenOver)
	}
	s.handOver(shared)
	srv.released.Inc()
	return true
}
