package every

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	var n atomic.Int32
	go func() {
		defer close(done)
		Run(stop, time.Millisecond, func() { n.Add(1) })
	}()
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fn ran %d times in 10s; want 3", n.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-done // Run returns once stop is closed
}
