package memory

import "testing"

// TestRing checks the ring against a plain slice through growth, wrap-around
// and shrinking.
func TestRing(t *testing.T) {
	var r ring
	var model []int64
	next := int64(0)
	check := func(step int) {
		t.Helper()
		if r.len() != len(model) {
			t.Fatalf("step %d: len %d; want %d", step, r.len(), len(model))
		}
		for i, want := range model {
			if got := r.at(i).ts; got != want {
				t.Fatalf("step %d: at(%d) = %d; want %d", step, i, got, want)
			}
		}
	}
	// Phases of (pushes, pops) per step: grow, steady with wrap, shrink.
	for step, p := range [][2]int{{100, 0}, {1000, 900}, {5, 5}, {300, 10}, {0, 480}, {7, 3}, {0, 14}} {
		for i := 0; i < p[0]; i++ {
			r.push(entry{ts: next})
			model = append(model, next)
			next++
		}
		for i := 0; i < p[1]; i++ {
			r.pop()
			model = model[1:]
		}
		check(step)
	}
	if len(r.buf) != minRing {
		t.Fatalf("empty ring kept %d slots; want %d", len(r.buf), minRing)
	}
}
