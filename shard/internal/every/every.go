// Package every runs a function periodically on the caller's goroutine: the
// loop behind the background jobs of shard/ (router retention, pebble WAL
// flush). The caller owns the goroutine: it starts Run and stops it by
// closing stop, then waits for it.
package every

import "time"

// Run calls fn every d until stop is closed.
func Run(stop <-chan struct{}, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
		}
	}
}
