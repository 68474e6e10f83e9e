package memory

import "testing"

// TestRing checks the ring against a plain slice through growth, wrap-around
// and shrinking.
func TestRing(t *testing.T) {
	var r ring[entry]
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

func TestRingSearch(t *testing.T) {
	var r ring[int64]
	for i := int64(0); i < 100; i++ { // wrap the head past the array start
		r.push(i)
		if i < 90 {
			r.pop()
		}
	}
	// r holds 90..99 (plus the last pushes); search for the first >= x.
	for _, c := range []struct{ x, want int64 }{{0, 90}, {90, 90}, {95, 95}, {99, 99}} {
		i := r.search(func(v *int64) bool { return *v >= c.x })
		if got := *r.at(i); got != c.want {
			t.Fatalf("search(>= %d) = %d; want %d", c.x, got, c.want)
		}
	}
	if i := r.search(func(v *int64) bool { return *v >= 1000 }); i != r.len() {
		t.Fatalf("search past the end = %d; want %d", i, r.len())
	}
}
