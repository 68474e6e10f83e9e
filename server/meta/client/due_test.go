package client

import (
	"bytes"
	"errors"
	"testing"
)

func TestDueRoundTrip(t *testing.T) {
	for _, d := range []Due{{At: 1764000000000, Owner: 3, Lost: -1}, {Owner: 1<<63 + 5, Lost: 30000}, {}} {
		got, err := ParseDue(AppendDue(nil, d))
		if err != nil || got != d {
			t.Errorf("ParseDue(AppendDue(%+v)) = %+v, %v", d, got, err)
		}
	}
	if _, err := ParseDue(make([]byte, DueLen-1)); !errors.Is(err, ErrBadDue) {
		t.Errorf("short value: err %v, want ErrBadDue", err)
	}
}

func TestFiredKey(t *testing.T) {
	check := func(k, v []byte, wantErr bool, node uint64, kind byte, id string, at int64) {
		t.Helper()
		n, kd, c, a, err := ParseFired(k, v)
		if wantErr {
			if !errors.Is(err, ErrBadDue) {
				t.Errorf("ParseFired(%q): err %v, want ErrBadDue", k, err)
			}
			return
		}
		if err != nil || n != node || kd != kind || c != id || a != at {
			t.Errorf("ParseFired(%q) = %d %c %q %d %v, want %d %c %q %d", k, n, kd, c, a, err, node, kind, id, at)
		}
	}
	check(FiredKey(7, DueWill, "dev/1"), AppendFired(nil, 42), false, 7, DueWill, "dev/1", 42)
	check(FiredKey(1, DueExpiry, ""), AppendFired(nil, -1), false, 1, DueExpiry, "", -1)
	check(FiredKey(1, 'x', "a"), AppendFired(nil, 1), true, 0, 0, "", 0)
	check(FiredKey(2, DueRelease, "m"), AppendFired(nil, 5), false, 2, DueRelease, "m", 5)
	check(FiredPrefix(1), AppendFired(nil, 1), true, 0, 0, "", 0)
	check(FiredKey(1, DueWill, "a"), []byte{1}, true, 0, 0, "", 0)
	if string(FiredKey(9, DueExpiry, "c")[:8]) != string(FiredPrefix(9)) {
		t.Error("FiredKey does not start with FiredPrefix")
	}
}

func TestOwner(t *testing.T) {
	n, since, err := ParseOwner(AppendOwner(nil, 3, 1764000000123))
	if err != nil || n != 3 || since != 1764000000123 {
		t.Fatalf("ParseOwner(AppendOwner(3, ...)) = %d %d %v", n, since, err)
	}
	if _, _, err := ParseOwner(make([]byte, 8)); !errors.Is(err, ErrBadDue) {
		t.Fatalf("8-byte owner: err %v, want ErrBadDue", err)
	}
}

// FuzzDueEntries: the due, fired and owner decoders never panic, and what
// decodes encodes back to the same bytes.
func FuzzDueEntries(f *testing.F) {
	f.Add(DueKey(DueWill, "c"), AppendDue(nil, Due{At: 5, Owner: 2, Lost: -1}))
	f.Add(FiredKey(3, DueRelease, "c"), AppendOwner(nil, 3, 9))
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if d, err := ParseDue(v); err == nil && !bytes.Equal(AppendDue(nil, d), v) {
			t.Fatalf("due %x: re-encoded %x", v, AppendDue(nil, d))
		}
		if kind, id, err := ParseDueKey(k); err == nil && !bytes.Equal(DueKey(kind, id), k) {
			t.Fatalf("due key %q: re-encoded %q", k, DueKey(kind, id))
		}
		if node, kind, id, at, err := ParseFired(k, v); err == nil &&
			(!bytes.Equal(FiredKey(node, kind, id), k) || !bytes.Equal(AppendFired(nil, at), v)) {
			t.Fatalf("fired %q = %x: re-encoded differently", k, v)
		}
		if node, since, err := ParseOwner(v); err == nil && !bytes.Equal(AppendOwner(nil, node, since), v) {
			t.Fatalf("owner %x: re-encoded %x", v, AppendOwner(nil, node, since))
		}
	})
}
