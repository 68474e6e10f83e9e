package client

import (
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
