package auth

import (
	"errors"
	"sync"
	"time"
)

// ErrBusy refuses a login whose password needs the slow PBKDF2 check while
// the store's budget of slow checks is spent: the client should retry (MQTT
// answers 0x89 Server busy), it is not told its password is wrong.
var ErrBusy = errors.New("auth: too many password checks at once; try again")

// DefaultSlowChecks is the default Options.SlowChecksPerSecond.
const DefaultSlowChecks = 100

// slowBudget bounds the PBKDF2 verifications a store runs: each costs about
// 2 ms on the caller's goroutine, an event loop at CONNECT, and only logins
// of users without a fast check (the first after a restart, or on another
// node) pay it. Without a bound, a flood of wrong passwords for such users
// would stall the loops. A token bucket: burst and refill of perSecond.
type slowBudget struct {
	perSecond float64
	mu        sync.Mutex
	tokens    float64   // guarded by mu
	last      time.Time // guarded by mu
}

func newSlowBudget(perSecond int) *slowBudget {
	return &slowBudget{perSecond: float64(perSecond), tokens: float64(perSecond)}
}

// take spends one check at now, or reports false when none is left.
func (b *slowBudget) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.tokens = min(b.perSecond, b.tokens+now.Sub(b.last).Seconds()*b.perSecond)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
