package shard

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func TestTable(t *testing.T) {
	tb := NewTable[int](3) // rounds up to 4 stripes
	if len(tb.stripes) != 4 {
		t.Fatalf("NewTable(3): %d stripes; want 4", len(tb.stripes))
	}
	f := func(op, name string, v int, want bool) {
		t.Helper()
		var got bool
		switch op {
		case "insert":
			got = tb.Insert(name, v)
		case "get":
			var x int
			x, got = tb.Get(name)
			if got && x != v {
				t.Fatalf("Get(%q) = %d; want %d", name, x, v)
			}
		case "delete":
			var x int
			x, got = tb.Delete(name)
			if got && x != v {
				t.Fatalf("Delete(%q) = %d; want %d", name, x, v)
			}
		}
		if got != want {
			t.Fatalf("%s(%q, %d) = %v; want %v", op, name, v, got, want)
		}
	}
	f("get", "a", 0, false)
	f("insert", "a", 1, true)
	f("insert", "a", 2, false) // no overwrite
	f("get", "a", 1, true)
	f("insert", "b", 2, true)
	f("delete", "a", 1, true)
	f("delete", "a", 0, false)
	f("get", "b", 2, true)
	if tb.Len() != 1 {
		t.Fatalf("Len = %d; want 1", tb.Len())
	}
}

// TestTableConcurrent runs lock-free readers against writers under -race
// and checks every entry that was inserted and not deleted is found.
func TestTableConcurrent(t *testing.T) {
	tb := NewTable[int](8)
	const writers, n = 4, 200
	var wg sync.WaitGroup
	var stop atomic.Bool
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if v, ok := tb.Get("w0-0"); ok && v != 0 {
					t.Errorf("Get(w0-0) = %d", v)
				}
				tb.Range(func(string, int) bool { return true })
			}
		}()
	}
	var ww sync.WaitGroup
	for w := 0; w < writers; w++ {
		ww.Add(1)
		go func() {
			defer ww.Done()
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				if !tb.Insert(name, i) {
					t.Errorf("Insert(%s) failed", name)
				}
				if i%2 == 1 {
					tb.Delete(name)
				}
			}
		}()
	}
	ww.Wait()
	stop.Store(true)
	wg.Wait()
	if tb.Len() != writers*n/2 {
		t.Fatalf("Len = %d; want %d", tb.Len(), writers*n/2)
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < n; i += 2 {
			if v, ok := tb.Get(fmt.Sprintf("w%d-%d", w, i)); !ok || v != i {
				t.Fatalf("Get(w%d-%d) = %d, %v", w, i, v, ok)
			}
		}
	}
}

// TestWaitListNoLostWakeup races Add against an appender that stores the
// high-water mark and calls Notify: every waiter must fire exactly once.
func TestWaitListNoLostWakeup(t *testing.T) {
	var l WaitList
	var hw atomic.Int64
	const waiters = 2000
	var fired [waiters]atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(1); i <= waiters; i++ {
			hw.Store(i)
			l.Notify(i)
		}
	}()
	for i := 0; i < waiters; i++ {
		l.Add(int64(i), func() { fired[i].Add(1) }, &hw)
	}
	<-done
	for i := range fired {
		if n := fired[i].Load(); n != 1 {
			t.Fatalf("waiter %d fired %d times; want 1 (hw %d, %d still registered)", i, n, hw.Load(), l.Len())
		}
	}
}

func TestWaitListCancelAndClose(t *testing.T) {
	var l WaitList
	var hw atomic.Int64
	var a, b, c atomic.Int32
	cancelA := l.Add(5, func() { a.Add(1) }, &hw)
	l.Add(5, func() { b.Add(1) }, &hw)
	l.Add(9, func() { c.Add(1) }, &hw)
	if !cancelA() || cancelA() {
		t.Fatal("cancel: want true then false")
	}
	hw.Store(6)
	l.Notify(6)
	if a.Load() != 0 || b.Load() != 1 || c.Load() != 0 {
		t.Fatalf("after Notify(6): fired a=%d b=%d c=%d; want 0 1 0", a.Load(), b.Load(), c.Load())
	}
	l.Close()
	if c.Load() != 1 {
		t.Fatal("Close did not fire the remaining waiter")
	}
	l.Add(100, func() { a.Add(1) }, &hw) // after Close: fires at once
	if a.Load() != 1 || l.Len() != 0 {
		t.Fatalf("Add after Close: fired %d, %d registered; want 1, 0", a.Load(), l.Len())
	}
}
