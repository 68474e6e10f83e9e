package auth

import (
	"errors"
	"testing"
	"time"
)

// TestSlowCheckBudget: logins that need the slow PBKDF2 check are refused
// with ErrBusy (not ErrBadPassword) once the store's budget per second is
// spent, and pass again when it refilled; fast checks are never limited.
func TestSlowCheckBudget(t *testing.T) {
	be := NewMemory()
	// Set through another store: this one has no fast check for dev.
	if err := newStore(t, Options{Backend: be}).SetUser(ctx, "dev", "pw", false); err != nil {
		t.Fatal(err)
	}
	clock := time.Unix(1_800_000_000, 0)
	s := newStore(t, Options{Backend: be, SlowChecksPerSecond: 2, Now: func() time.Time { return clock }})
	login := func(pass string) error {
		_, err := s.Connect(&Login{ClientID: "c", Username: "dev", HasUsername: true, Password: []byte(pass), HasPassword: true})
		return err
	}
	busy := deniedCount(ReasonBusy)
	for i, c := range []struct {
		pass    string
		advance time.Duration
		want    error
	}{
		{"wrong", 0, ErrBadPassword}, // slow check 1 of 2
		{"wrong", 0, ErrBadPassword}, // slow check 2 of 2
		{"pw", 0, ErrBusy},           // budget spent: not told "bad password"
		{"pw", 600 * time.Millisecond, nil},
		{"pw", 0, nil}, // fast check now: no budget needed
		{"wrong", 0, ErrBadPassword},
	} {
		clock = clock.Add(c.advance)
		if err := login(c.pass); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Fatalf("login %d (%s): %v; want %v", i, c.pass, err, c.want)
		}
	}
	if d := deniedCount(ReasonBusy) - busy; d != 1 {
		t.Fatalf("busy denials counted %d; want 1", d)
	}
}
