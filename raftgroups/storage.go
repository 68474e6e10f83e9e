package raftgroups

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Key layout of the raft area in the node's pebble DB (see doc.go).
const (
	areaRaft      = 0x01
	kindEntry     = 0x01
	kindHardState = 0x02
	kindSnapshot  = 0x03
	kindTruncated = 0x04
	entryKeyLen   = 3 + 8
)

// OpenDB opens (creating if needed) the node's pebble DB in dir, logging
// through log (nil: slog.Default()). One DB holds the raft state of all three
// groups; close it after the Manager stopped.
func OpenDB(dir string, log *slog.Logger) (*pebble.DB, error) { return openDB(dir, vfs.Default, log) }

func openDB(dir string, fs vfs.FS, log *slog.Logger) (*pebble.DB, error) {
	if log == nil {
		log = slog.Default()
	}
	db, err := pebble.Open(dir, &pebble.Options{FS: fs, Logger: logAdapter{log.With("component", "pebble")}})
	if err != nil {
		return nil, fmt.Errorf("raftgroups: open pebble %s: %w", dir, err)
	}
	return db, nil
}

func entryKey(dst []byte, g GroupID, index uint64) []byte {
	dst = append(dst, areaRaft, byte(g), kindEntry)
	return binary.BigEndian.AppendUint64(dst, index)
}

func stateKey(g GroupID, kind byte) []byte { return []byte{areaRaft, byte(g), kind} }

// Storage is a raft.Storage for one group backed by the node's pebble DB.
//
// All entries after the last snapshot are mirrored in memory (ents), so reads
// never touch pebble; the mirror is bounded by the snapshot policy
// (Config.SnapshotEntries + Config.CompactKeepEntries entries). Writes go to
// pebble first, synced, and only then to the mirror, so what raft reads was
// durable before it became visible.
//
// Methods are safe for concurrent use (raft reads from the group goroutine,
// status readers from others); mu guards every field below it.
type Storage struct {
	db    *pebble.DB
	group GroupID

	mu        sync.Mutex
	hardState *pb.HardState
	snap      *pb.Snapshot
	// ents[0] is a dummy holding the index and term of the last snapshot
	// (0/0 when there is none); ents[i] has index ents[0].Index+i.
	ents []*pb.Entry
}

// OpenStorage loads group g's raft state from db.
func OpenStorage(db *pebble.DB, g GroupID) (*Storage, error) {
	s := &Storage{db: db, group: g, snap: pb.EnsureSnapshot(nil)}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("raftgroups: %s: open storage: %w", g, err)
	}
	return s, nil
}

func (s *Storage) load() error {
	if v, ok, err := s.get(stateKey(s.group, kindHardState)); err != nil {
		return err
	} else if ok {
		hs := &pb.HardState{}
		if err := proto.Unmarshal(v, hs); err != nil {
			return fmt.Errorf("hard state: %w", err)
		}
		s.hardState = hs
	}
	if v, ok, err := s.get(stateKey(s.group, kindSnapshot)); err != nil {
		return err
	} else if ok {
		snap := &pb.Snapshot{}
		if err := proto.Unmarshal(v, snap); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		s.snap = pb.EnsureSnapshot(snap)
	}
	// The dummy is the truncation point if the log was compacted, else the
	// snapshot; stored entries start right after it.
	di, dt := s.snap.GetMetadata().GetIndex(), s.snap.GetMetadata().GetTerm()
	if v, ok, err := s.get(stateKey(s.group, kindTruncated)); err != nil {
		return err
	} else if ok {
		if len(v) != 16 {
			return fmt.Errorf("truncated state: %d bytes: %w", len(v), ErrCorrupt)
		}
		di, dt = binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
	}
	s.ents = []*pb.Entry{{Index: new(di), Term: new(dt)}}
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: entryKey(nil, s.group, di+1),
		UpperBound: stateKey(s.group, kindEntry+1),
	})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		e := &pb.Entry{}
		if err := proto.Unmarshal(it.Value(), e); err != nil {
			return fmt.Errorf("entry %x: %w", it.Key(), err)
		}
		if want := s.lastIndex() + 1; e.GetIndex() != want {
			return fmt.Errorf("log hole: entry %d where %d expected: %w", e.GetIndex(), want, ErrCorrupt)
		}
		s.ents = append(s.ents, e)
	}
	return it.Error()
}

// truncate stages the deletion of every entry up to and including index i
// and records (i, term) as the new dummy. REQUIRES: s.mu held.
func (s *Storage) truncate(b *pebble.Batch, i, term uint64) {
	_ = b.DeleteRange(entryKey(nil, s.group, 0), entryKey(nil, s.group, i+1), nil)
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 16), i)
	_ = b.Set(stateKey(s.group, kindTruncated), binary.BigEndian.AppendUint64(v, term), nil)
}

func (s *Storage) get(key []byte) ([]byte, bool, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, closer.Close()
}

// InitialState implements raft.Storage.
func (s *Storage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hardState, pb.EnsureConfState(s.snap.GetMetadata().GetConfState()), nil
}

// Entries implements raft.Storage. The returned slice is freshly allocated.
func (s *Storage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	offset := s.ents[0].GetIndex()
	if lo <= offset {
		return nil, raft.ErrCompacted
	}
	if hi > s.lastIndex()+1 || lo >= hi {
		return nil, raft.ErrUnavailable
	}
	src := s.ents[lo-offset : hi-offset]
	size := uint64(proto.Size(src[0]))
	n := 1
	for ; n < len(src); n++ {
		size += uint64(proto.Size(src[n]))
		if size > maxSize {
			break
		}
	}
	return append([]*pb.Entry(nil), src[:n]...), nil
}

// Term implements raft.Storage.
func (s *Storage) Term(i uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	offset := s.ents[0].GetIndex()
	if i < offset {
		return 0, raft.ErrCompacted
	}
	if i-offset >= uint64(len(s.ents)) {
		return 0, raft.ErrUnavailable
	}
	return s.ents[i-offset].GetTerm(), nil
}

// LastIndex implements raft.Storage.
func (s *Storage) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastIndex(), nil
}

func (s *Storage) lastIndex() uint64 { return s.ents[0].GetIndex() + uint64(len(s.ents)) - 1 }

// FirstIndex implements raft.Storage.
func (s *Storage) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ents[0].GetIndex() + 1, nil
}

// Snapshot implements raft.Storage. The snapshot is immutable once stored,
// so it is returned without a copy.
func (s *Storage) Snapshot() (*pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, nil
}

// Save persists one Ready's snapshot, entries and hard state in a single
// pebble batch, then makes them visible to raft. It is the only write path
// on the Ready loop: the caller sends rd.Messages only after Save returned
// nil. The batch is synced when mustSync (raft's Ready.MustSync: entries,
// term or vote changed) or a snapshot is present; a Ready that only moves
// the commit index is written without fsync, as etcd does, because a lost
// commit index is recovered from the leader. A non-nil error means the disk
// cannot be trusted (fatal).
func (s *Storage) Save(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot, mustSync bool) error {
	hasSnap := !raft.IsEmptySnap(snap)
	hasHS := !raft.IsEmptyHardState(hs)
	if !hasSnap && !hasHS && len(ents) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if hasSnap && snap.GetMetadata().GetIndex() <= s.snap.GetMetadata().GetIndex() {
		return fmt.Errorf("raftgroups: %s: save snapshot %d: %w", s.group, snap.GetMetadata().GetIndex(), raft.ErrSnapOutOfDate)
	}
	b := s.db.NewBatch()
	defer b.Close()
	ents, err := s.stage(b, hasSnap, snap, ents)
	if err != nil {
		return err
	}
	if hasHS {
		v, err := proto.Marshal(hs)
		if err != nil {
			return fmt.Errorf("raftgroups: %s: marshal hard state: %w", s.group, err)
		}
		_ = b.Set(stateKey(s.group, kindHardState), v, nil)
	}
	wo := pebble.NoSync
	if mustSync || hasSnap {
		wo = pebble.Sync
	}
	if err := b.Commit(wo); err != nil {
		return fmt.Errorf("raftgroups: %s: write raft batch: %w", s.group, err)
	}
	if hasSnap {
		s.installSnap(snap)
	}
	if len(ents) > 0 {
		s.appendMem(ents)
	}
	if hasHS {
		s.hardState = hs
	}
	return nil
}

// stage writes the snapshot and entries into b and returns the entries that
// remain to be appended in memory (those before the first index are dropped).
// REQUIRES: s.mu held.
func (s *Storage) stage(b *pebble.Batch, hasSnap bool, snap *pb.Snapshot, ents []*pb.Entry) ([]*pb.Entry, error) {
	first := s.ents[0].GetIndex() + 1
	last := s.lastIndex()
	if hasSnap {
		v, err := proto.Marshal(snap)
		if err != nil {
			return nil, fmt.Errorf("raftgroups: %s: marshal snapshot: %w", s.group, err)
		}
		_ = b.Set(stateKey(s.group, kindSnapshot), v, nil)
		// A snapshot replaces the whole log.
		_ = b.DeleteRange(entryKey(nil, s.group, 0), stateKey(s.group, kindEntry+1), nil)
		s.truncate(b, snap.GetMetadata().GetIndex(), snap.GetMetadata().GetTerm())
		first = snap.GetMetadata().GetIndex() + 1
		last = snap.GetMetadata().GetIndex()
	}
	if len(ents) == 0 {
		return nil, nil
	}
	if ents[len(ents)-1].GetIndex() < first {
		return nil, nil
	}
	if ents[0].GetIndex() < first {
		ents = ents[first-ents[0].GetIndex():]
	}
	if ents[0].GetIndex() > last+1 {
		return nil, fmt.Errorf("raftgroups: %s: append at %d leaves a hole after %d", s.group, ents[0].GetIndex(), last)
	}
	if ents[0].GetIndex() <= last {
		// Conflicting suffix: drop everything from the first new index on.
		_ = b.DeleteRange(entryKey(nil, s.group, ents[0].GetIndex()), stateKey(s.group, kindEntry+1), nil)
	}
	key := make([]byte, 0, entryKeyLen)
	var buf []byte
	for _, e := range ents {
		var err error
		buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], e)
		if err != nil {
			return nil, fmt.Errorf("raftgroups: %s: marshal entry %d: %w", s.group, e.GetIndex(), err)
		}
		_ = b.Set(entryKey(key[:0], s.group, e.GetIndex()), buf, nil) // Set copies key and value
	}
	return ents, nil
}

// installSnap resets the in-memory log to snap. REQUIRES: s.mu held.
func (s *Storage) installSnap(snap *pb.Snapshot) {
	s.snap = pb.EnsureSnapshot(snap)
	m := snap.GetMetadata()
	s.ents = []*pb.Entry{{Index: new(m.GetIndex()), Term: new(m.GetTerm())}}
}

// appendMem appends ents (already trimmed by stage) to the mirror, cutting a
// conflicting suffix. REQUIRES: s.mu held.
func (s *Storage) appendMem(ents []*pb.Entry) {
	offset := ents[0].GetIndex() - s.ents[0].GetIndex()
	if offset == uint64(len(s.ents)) {
		s.ents = append(s.ents, ents...) // the common case: amortized O(1)
		return
	}
	// Conflict: the full slice expression makes append copy, because the
	// dropped suffix may still be referenced by slices handed to raft and
	// must not be overwritten in place.
	s.ents = append(s.ents[:offset:offset], ents...)
}

// Append persists ents (synced), truncating any conflicting suffix. It is
// Save without hard state or snapshot.
func (s *Storage) Append(ents []*pb.Entry) error { return s.Save(nil, ents, nil, true) }

// SetHardState persists hs (synced).
func (s *Storage) SetHardState(hs *pb.HardState) error { return s.Save(hs, nil, nil, true) }

// ApplySnapshot persists snap (synced) and replaces the log with it. A
// snapshot at index 0 carrying only a ConfState bootstraps membership.
func (s *Storage) ApplySnapshot(snap *pb.Snapshot) error {
	if raft.IsEmptySnap(snap) {
		return s.Bootstrap(snap.GetMetadata().GetConfState())
	}
	return s.Save(nil, nil, snap, true)
}

// Bootstrap gives a group that has no state yet its initial membership cs,
// the way etcd raft recommends (instead of RawNode.Bootstrap): a snapshot at
// index 1, term 1 holding cs and an empty state machine image, with
// HardState{Term: 1, Commit: 1}. Every founding member writes the same
// bytes. The log then starts at index 2, so a member added later (which has
// no bootstrap) is caught up by snapshot and learns the founding membership
// from it. It is a no-op when the group has any state or cs has no voters.
func (s *Storage) Bootstrap(cs *pb.ConfState) error {
	if len(cs.GetVoters()) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastIndex() != 0 || !raft.IsEmptyHardState(s.hardState) {
		return nil
	}
	snap := pb.EnsureSnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: proto.Clone(cs).(*pb.ConfState), Index: new(uint64(1)), Term: new(uint64(1))}})
	hs := &pb.HardState{Term: new(uint64(1)), Vote: new(uint64(0)), Commit: new(uint64(1))}
	sv, err := proto.Marshal(snap)
	if err != nil {
		return fmt.Errorf("raftgroups: %s: marshal bootstrap: %w", s.group, err)
	}
	hv, err := proto.Marshal(hs)
	if err != nil {
		return fmt.Errorf("raftgroups: %s: marshal bootstrap: %w", s.group, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(stateKey(s.group, kindSnapshot), sv, nil)
	_ = b.Set(stateKey(s.group, kindHardState), hv, nil)
	s.truncate(b, 1, 1)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("raftgroups: %s: sync bootstrap: %w", s.group, err)
	}
	s.installSnap(snap)
	s.hardState = hs
	return nil
}

// CreateSnapshot records a snapshot of the state machine at applied index i
// (data is the state machine's serialization, cs the membership at i) and
// compacts the log up to i-keep, keeping keep entries for followers that are
// only slightly behind. Both happen in one synced batch.
func (s *Storage) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte, keep uint64) (*pb.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i <= s.snap.GetMetadata().GetIndex() {
		return nil, raft.ErrSnapOutOfDate
	}
	offset := s.ents[0].GetIndex()
	if i > s.lastIndex() {
		return nil, fmt.Errorf("raftgroups: %s: snapshot at %d beyond last index %d: %w", s.group, i, s.lastIndex(), raft.ErrUnavailable)
	}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		Index: new(i), Term: new(s.ents[i-offset].GetTerm()), ConfState: proto.Clone(cs).(*pb.ConfState),
	}}
	v, err := proto.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("raftgroups: %s: marshal snapshot: %w", s.group, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(stateKey(s.group, kindSnapshot), v, nil)
	compactTo := uint64(0)
	if i > keep {
		compactTo = i - keep
	}
	if compactTo > offset {
		s.truncate(b, compactTo, s.ents[compactTo-offset].GetTerm())
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("raftgroups: %s: sync snapshot: %w", s.group, err)
	}
	s.snap = pb.EnsureSnapshot(snap)
	if compactTo > offset {
		s.compactMem(compactTo)
	}
	return s.snap, nil
}

// Compact discards entries before compactIndex (which becomes the dummy
// entry). As in raft.MemoryStorage, compacting at or below the current dummy
// returns raft.ErrCompacted.
func (s *Storage) Compact(compactIndex uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	offset := s.ents[0].GetIndex()
	if compactIndex <= offset {
		return raft.ErrCompacted
	}
	if compactIndex > s.lastIndex() {
		return fmt.Errorf("raftgroups: %s: compact %d beyond last index %d: %w", s.group, compactIndex, s.lastIndex(), raft.ErrUnavailable)
	}
	b := s.db.NewBatch()
	defer b.Close()
	s.truncate(b, compactIndex, s.ents[compactIndex-offset].GetTerm())
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("raftgroups: %s: compact: %w", s.group, err)
	}
	s.compactMem(compactIndex)
	return nil
}

// compactMem makes entry i the dummy. REQUIRES: s.mu held, offset < i <= last.
func (s *Storage) compactMem(i uint64) {
	k := i - s.ents[0].GetIndex()
	// New backing array: old slices handed to raft stay valid and unmodified.
	ents := make([]*pb.Entry, 1, uint64(len(s.ents))-k)
	ents[0] = &pb.Entry{Index: new(i), Term: new(s.ents[k].GetTerm())}
	s.ents = append(ents, s.ents[k+1:]...)
}
