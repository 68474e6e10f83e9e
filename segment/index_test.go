package segment

import (
	"testing"
)

func offIndexBytes(es ...offEntry) []byte {
	var b []byte
	for _, e := range es {
		b = appendOffEntry(b, e)
	}
	return b
}

func TestLoadOffIndex(t *testing.T) {
	f := func(name string, b []byte, size int64, want int) {
		t.Helper()
		if got := loadOffIndex(nil, b, size); len(got) != want {
			t.Errorf("%s: loadOffIndex kept %d entries %v; want %d", name, len(got), got, want)
		}
	}
	good := offIndexBytes(offEntry{0, 0}, offEntry{5, 100}, offEntry{9, 200})
	f("valid", good, 1000, 3)
	f("torn last entry", good[:len(good)-3], 1000, 2)
	f("position past the log", good, 150, 2)
	f("first entry not (0,0)", offIndexBytes(offEntry{1, 0}), 1000, 0)
	f("rel not increasing", offIndexBytes(offEntry{0, 0}, offEntry{5, 100}, offEntry{5, 200}), 1000, 2)
	f("pos not increasing", offIndexBytes(offEntry{0, 0}, offEntry{5, 100}, offEntry{6, 100}), 1000, 2)
	f("preallocated zeros", append(good, make([]byte, 64)...), 1000, 3)
	f("empty", nil, 1000, 0)
}

func TestLoadTimeIndex(t *testing.T) {
	var b []byte
	for _, e := range []timeEntry{{-5, 0}, {10, 4}, {10, 8}, {9, 12}} {
		b = appendTimeEntry(b, e)
	}
	if got := loadTimeIndex(nil, b); len(got) != 3 {
		t.Fatalf("loadTimeIndex kept %v; want the 3 entries before the decreasing timestamp", got)
	}
	if rel := timeFloor(loadTimeIndex(nil, b), 10); rel != 0 {
		t.Fatalf("timeFloor(10) = %d; want 0 (records before rel 4 may be as new as 10)", rel)
	}
	if rel := timeFloor(loadTimeIndex(nil, b), 11); rel != 8 {
		t.Fatalf("timeFloor(11) = %d; want 8", rel)
	}
}

func FuzzLoadIndex(f *testing.F) {
	f.Add(offIndexBytes(offEntry{0, 0}, offEntry{5, 100}, offEntry{9, 200}), int64(1000))
	f.Add(appendTimeEntry(appendTimeEntry(nil, timeEntry{1, 0}), timeEntry{3, 7}), int64(10))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, b []byte, size int64) {
		for _, in := range [][]byte{b, b[:len(b)/2]} {
			idx := loadOffIndex(nil, in, size)
			for i, e := range idx {
				if int64(e.pos) >= size || i == 0 && (e.rel != 0 || e.pos != 0) || i > 0 && (e.rel <= idx[i-1].rel || e.pos <= idx[i-1].pos) {
					t.Fatalf("loadOffIndex kept invalid entry %d %+v of %v (size %d)", i, e, idx, size)
				}
			}
			if len(idx) > 0 {
				if e := floorEntry(idx, idx[len(idx)-1].rel); e != idx[len(idx)-1] {
					t.Fatalf("floorEntry(last rel) = %+v; want the last entry", e)
				}
			}
			tidx := loadTimeIndex(nil, in)
			for i := 1; i < len(tidx); i++ {
				if tidx[i].rel <= tidx[i-1].rel || tidx[i].ts < tidx[i-1].ts {
					t.Fatalf("loadTimeIndex kept invalid entry %d of %v", i, tidx)
				}
			}
		}
	})
}
