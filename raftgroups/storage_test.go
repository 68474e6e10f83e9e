package raftgroups

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ents builds entries at consecutive indexes starting at first, one per term.
func ents(first uint64, terms ...uint64) []*pb.Entry {
	out := make([]*pb.Entry, len(terms))
	for i, t := range terms {
		out[i] = &pb.Entry{Index: new(first + uint64(i)), Term: new(t)}
	}
	return out
}

func openTestDB(t *testing.T) (*pebble.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := OpenDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dir
}

// newStorage returns group g's storage holding the log of etcd's
// storage_test.go fixture index(3).terms(3,4,5): a dummy at 3/3 (a snapshot)
// followed by entries 4/4 and 5/5.
func newStorage(t *testing.T, db *pebble.DB, g GroupID) *Storage {
	t.Helper()
	s, err := OpenStorage(db, g)
	if err != nil {
		t.Fatal(err)
	}
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(3)), Term: new(uint64(3)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	if err := s.ApplySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ents(4, 4, 5)); err != nil {
		t.Fatal(err)
	}
	return s
}

// memLog returns the in-memory log (dummy first) as index/term pairs.
func memLog(s *Storage) [][2]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][2]uint64, len(s.ents))
	for i, e := range s.ents {
		out[i] = [2]uint64{e.GetIndex(), e.GetTerm()}
	}
	return out
}

func logOf(es []*pb.Entry) [][2]uint64 {
	out := make([][2]uint64, len(es))
	for i, e := range es {
		out[i] = [2]uint64{e.GetIndex(), e.GetTerm()}
	}
	return out
}

// checkReopen reopens s's group from the same DB and requires the same log,
// hard state and snapshot: what raft saw was on disk.
func checkReopen(t *testing.T, s *Storage) {
	t.Helper()
	r, err := OpenStorage(s.db, s.group)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := memLog(r), memLog(s); !slices.Equal(got, want) {
		t.Fatalf("reopened log %v; want %v", got, want)
	}
	if !proto.Equal(r.hardState, s.hardState) {
		t.Fatalf("reopened hard state %v; want %v", r.hardState, s.hardState)
	}
	if !proto.Equal(r.snap, s.snap) {
		t.Fatalf("reopened snapshot %v; want %v", r.snap, s.snap)
	}
}

func TestStorageTerm(t *testing.T) {
	db, _ := openTestDB(t)
	s := newStorage(t, db, GroupMetadata)
	f := func(i, wantTerm uint64, wantErr error) {
		t.Helper()
		term, err := s.Term(i)
		if !errors.Is(err, wantErr) || term != wantTerm {
			t.Fatalf("Term(%d) = %d, %v; want %d, %v", i, term, err, wantTerm, wantErr)
		}
	}
	f(2, 0, raft.ErrCompacted)
	f(3, 3, nil)
	f(4, 4, nil)
	f(5, 5, nil)
	f(6, 0, raft.ErrUnavailable)
}

func TestStorageEntries(t *testing.T) {
	db, _ := openTestDB(t)
	s := newStorage(t, db, GroupMetadata)
	if err := s.Append(ents(6, 6)); err != nil {
		t.Fatal(err)
	}
	all := ents(3, 3, 4, 5, 6)
	sz := func(i int) uint64 { return uint64(proto.Size(all[i])) }
	tests := []struct {
		lo, hi, maxSize uint64
		wantErr         error
		want            []*pb.Entry
	}{
		{2, 6, math.MaxUint64, raft.ErrCompacted, nil},
		{3, 4, math.MaxUint64, raft.ErrCompacted, nil},
		{4, 5, math.MaxUint64, nil, ents(4, 4)},
		{4, 6, math.MaxUint64, nil, ents(4, 4, 5)},
		{4, 7, math.MaxUint64, nil, ents(4, 4, 5, 6)},
		{4, 7, 0, nil, ents(4, 4)}, // at least one entry even if maxSize is 0
		{4, 7, sz(1) + sz(2), nil, ents(4, 4, 5)},
		{4, 7, sz(1) + sz(2) + sz(3)/2, nil, ents(4, 4, 5)},
		{4, 7, sz(1) + sz(2) + sz(3) - 1, nil, ents(4, 4, 5)},
		{4, 7, sz(1) + sz(2) + sz(3), nil, ents(4, 4, 5, 6)},
		{4, 8, math.MaxUint64, raft.ErrUnavailable, nil}, // beyond last index
	}
	for _, tt := range tests {
		got, err := s.Entries(tt.lo, tt.hi, tt.maxSize)
		if !errors.Is(err, tt.wantErr) || !slices.Equal(logOf(got), logOf(tt.want)) {
			t.Errorf("Entries(%d, %d, %d) = %v, %v; want %v, %v", tt.lo, tt.hi, tt.maxSize, logOf(got), err, logOf(tt.want), tt.wantErr)
		}
	}
	// The caller owns the slice: appending to it must not corrupt storage.
	got, _ := s.Entries(4, 5, math.MaxUint64)
	_ = append(got, &pb.Entry{Index: new(uint64(99))})
	if e, _ := s.Entries(5, 6, math.MaxUint64); e[0].GetIndex() != 5 {
		t.Fatalf("append to returned slice leaked into storage: %v", logOf(e))
	}
}

func TestStorageFirstLastIndex(t *testing.T) {
	db, _ := openTestDB(t)
	s := newStorage(t, db, GroupMetadata)
	f := func(wantFirst, wantLast uint64) {
		t.Helper()
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if first != wantFirst || last != wantLast {
			t.Fatalf("first, last = %d, %d; want %d, %d", first, last, wantFirst, wantLast)
		}
		checkReopen(t, s)
	}
	f(4, 5)
	if err := s.Append(ents(6, 5)); err != nil {
		t.Fatal(err)
	}
	f(4, 6)
	if err := s.Compact(4); err != nil {
		t.Fatal(err)
	}
	f(5, 6)
}

func TestStorageCompact(t *testing.T) {
	tests := []struct {
		i                   uint64
		wantErr             error
		wantIndex, wantTerm uint64
		wantLen             int
	}{
		{2, raft.ErrCompacted, 3, 3, 3},
		{3, raft.ErrCompacted, 3, 3, 3},
		{4, nil, 4, 4, 2},
		{5, nil, 5, 5, 1},
		{6, raft.ErrUnavailable, 3, 3, 3},
	}
	for _, tt := range tests {
		db, _ := openTestDB(t)
		s := newStorage(t, db, GroupOffset)
		err := s.Compact(tt.i)
		l := memLog(s)
		if !errors.Is(err, tt.wantErr) || l[0] != [2]uint64{tt.wantIndex, tt.wantTerm} || len(l) != tt.wantLen {
			t.Errorf("Compact(%d) = %v, log %v; want %v, dummy %d/%d, len %d", tt.i, err, l, tt.wantErr, tt.wantIndex, tt.wantTerm, tt.wantLen)
		}
		checkReopen(t, s)
	}
}

func TestStorageCreateSnapshot(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	data := []byte("data")
	tests := []struct {
		i, keep   uint64
		wantErr   error
		wantTerm  uint64
		wantFirst uint64
	}{
		{4, 0, nil, 4, 5},
		{5, 0, nil, 5, 6},
		{5, 1, nil, 5, 5},   // keep one entry before the snapshot for followers
		{5, 100, nil, 5, 4}, // keep more than there is: nothing compacted
		{3, 0, raft.ErrSnapOutOfDate, 0, 4},
		{6, 0, raft.ErrUnavailable, 0, 4},
	}
	for _, tt := range tests {
		db, _ := openTestDB(t)
		s := newStorage(t, db, GroupMQTT)
		snap, err := s.CreateSnapshot(tt.i, cs, data, tt.keep)
		first, _ := s.FirstIndex()
		if !errors.Is(err, tt.wantErr) || first != tt.wantFirst {
			t.Errorf("CreateSnapshot(%d, keep %d) = %v, first %d; want %v, first %d", tt.i, tt.keep, err, first, tt.wantErr, tt.wantFirst)
			continue
		}
		if err != nil {
			continue
		}
		want := pb.EnsureSnapshot(&pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(tt.i), Term: new(tt.wantTerm), ConfState: proto.Clone(cs).(*pb.ConfState)}})
		got, _ := s.Snapshot()
		if !proto.Equal(snap, want) || !proto.Equal(got, want) {
			t.Errorf("CreateSnapshot(%d) = %v, Snapshot() = %v; want %v", tt.i, snap, got, want)
		}
		checkReopen(t, s)
	}
}

func TestStorageAppend(t *testing.T) {
	tests := []struct {
		name   string
		append []*pb.Entry
		want   []*pb.Entry // log after the append, dummy first
	}{
		{"all compacted", ents(1, 1, 2), ents(3, 3, 4, 5)},
		{"same entries", ents(3, 3, 4, 5), ents(3, 3, 4, 5)},
		{"conflict overwrites", ents(3, 3, 6, 6), ents(3, 3, 6, 6)},
		{"extend", ents(3, 3, 4, 5, 5), ents(3, 3, 4, 5, 5)},
		{"truncate incoming and existing", ents(2, 3, 3, 5), ents(3, 3, 5)},
		{"truncate existing", ents(4, 5), ents(3, 3, 5)},
		{"direct append", ents(6, 5), ents(3, 3, 4, 5, 5)},
	}
	for _, tt := range tests {
		db, _ := openTestDB(t)
		s := newStorage(t, db, GroupMetadata)
		if err := s.Append(tt.append); err != nil {
			t.Errorf("%s: Append(%v) = %v", tt.name, logOf(tt.append), err)
			continue
		}
		if got := memLog(s); !slices.Equal(got, logOf(tt.want)) {
			t.Errorf("%s: Append(%v): log %v; want %v", tt.name, logOf(tt.append), got, logOf(tt.want))
		}
		checkReopen(t, s)
	}
	// A hole is refused and leaves the log alone.
	db, _ := openTestDB(t)
	s := newStorage(t, db, GroupMetadata)
	if err := s.Append(ents(7, 5)); err == nil {
		t.Fatalf("Append at 7 after last 5 = nil; want a hole error")
	}
	if got := memLog(s); !slices.Equal(got, logOf(ents(3, 3, 4, 5))) {
		t.Fatalf("log after refused append %v", got)
	}
}

func TestStorageApplySnapshot(t *testing.T) {
	cs := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	snapAt := func(i, term uint64) *pb.Snapshot {
		return &pb.Snapshot{Data: []byte("data"), Metadata: &pb.SnapshotMetadata{Index: new(i), Term: new(term), ConfState: cs}}
	}
	tests := []struct {
		name    string
		snaps   []*pb.Snapshot
		wantErr error
	}{
		{"normal", []*pb.Snapshot{snapAt(4, 4)}, nil},
		{"out of date", []*pb.Snapshot{snapAt(4, 4), snapAt(3, 3)}, raft.ErrSnapOutOfDate},
		{"bootstrap with conf state", []*pb.Snapshot{{Metadata: &pb.SnapshotMetadata{ConfState: cs}}}, nil},
	}
	for _, tt := range tests {
		db, _ := openTestDB(t)
		s, err := OpenStorage(db, GroupMetadata)
		if err != nil {
			t.Fatal(err)
		}
		for _, sn := range tt.snaps {
			err = s.ApplySnapshot(sn)
		}
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: ApplySnapshot = %v; want %v", tt.name, err, tt.wantErr)
		}
		_, gotCS, _ := s.InitialState()
		if !proto.Equal(gotCS, cs) {
			t.Errorf("%s: conf state %v; want %v", tt.name, gotCS, cs)
		}
		checkReopen(t, s)
	}
}

// TestStorageSave covers one Ready's worth of state written together, and
// three groups sharing one DB without seeing each other's keys.
func TestStorageSave(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ss [3]*Storage
	for i, g := range Groups {
		ss[i] = newStorage(t, db, g)
	}
	hs := &pb.HardState{Term: new(uint64(7)), Vote: new(uint64(2)), Commit: new(uint64(5))}
	if err := ss[1].Save(hs, ents(4, 7, 7, 7), nil, true); err != nil {
		t.Fatal(err)
	}
	snap := &pb.Snapshot{Data: []byte("img"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(9)), Term: new(uint64(8)), ConfState: &pb.ConfState{Voters: []uint64{1}}}}
	if err := ss[2].Save(hs, ents(10, 8), snap, true); err != nil {
		t.Fatal(err)
	}
	// Reopen the DB itself, as after a restart.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := OpenDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	want := [3][][2]uint64{logOf(ents(3, 3, 4, 5)), logOf(ents(3, 3, 7, 7, 7)), logOf(ents(9, 8, 8))}
	for i, g := range Groups {
		r, err := OpenStorage(db2, g)
		if err != nil {
			t.Fatal(err)
		}
		if got := memLog(r); !slices.Equal(got, want[i]) {
			t.Errorf("%s after reopen: log %v; want %v", g, got, want[i])
		}
		gotHS, _, _ := r.InitialState()
		if wantHS := ss[i].hardState; !proto.Equal(gotHS, wantHS) {
			t.Errorf("%s after reopen: hard state %v; want %v", g, gotHS, wantHS)
		}
	}
	// An old snapshot is refused.
	r, _ := OpenStorage(db2, GroupMQTT)
	if err := r.Save(nil, nil, snap, true); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("Save(old snapshot) = %v; want ErrSnapOutOfDate", err)
	}
}
