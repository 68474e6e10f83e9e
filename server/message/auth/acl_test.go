package auth

import (
	"strings"
	"testing"
)

func TestMatchTopic(t *testing.T) {
	f := func(pattern, topic string, want bool) {
		t.Helper()
		if got := matchTopic(strings.Split(pattern, "/"), []byte(topic)); got != want {
			t.Errorf("matchTopic(%q, %q) = %v; want %v", pattern, topic, got, want)
		}
	}
	f("a/b", "a/b", true)
	f("a/b", "a/c", false)
	f("a/b", "a/b/c", false)
	f("a/b/c", "a/b", false)
	f("a/+", "a/b", true)
	f("a/+", "a/", true)
	f("a/+", "a/b/c", false)
	f("a/#", "a", true)
	f("a/#", "a/b/c", true)
	f("#", "x/y", true)
	f("#", "$SYS/x", false)
	f("+/x", "$SYS/x", false)
	f("$SYS/#", "$SYS/x", true)
	f("+/+", "/x", true)
	f("a/b", "", false)
}

func TestCovers(t *testing.T) {
	f := func(pattern, filter string, want bool) {
		t.Helper()
		if got := covers(strings.Split(pattern, "/"), []byte(filter)); got != want {
			t.Errorf("covers(%q, %q) = %v; want %v", pattern, filter, got, want)
		}
	}
	f("a/+", "a/b", true)
	f("a/+", "a/+", true)
	f("a/+", "a/#", false)
	f("a/#", "a/#", true)
	f("a/#", "a/+/c", true)
	f("a/#", "a", true)
	f("a/b", "a/+", false)
	f("#", "#", true)
	f("+/#", "#", true)
	f("a/+/#", "a/#", false)
	f("#", "$SYS/#", false)
	f("a/b", "a/b", true)
	f("a/b", "a/b/c", false)
}

func TestOverlaps(t *testing.T) {
	f := func(pattern, filter string, want bool) {
		t.Helper()
		if got := overlaps(strings.Split(pattern, "/"), []byte(filter)); got != want {
			t.Errorf("overlaps(%q, %q) = %v; want %v", pattern, filter, got, want)
		}
	}
	f("a/b", "a/#", true)
	f("a/b", "#", true)
	f("a/b", "a/+", true)
	f("a/b", "+/c", false)
	f("a/b/c", "a/+", false)
	f("a", "a/#", true)
	f("a/+/c", "a/b/+", true)
	f("$SYS/x", "#", false)
	f("$SYS/x", "+/x", false)
	f("$SYS/x", "$SYS/+", true)
	f("#", "$SYS/x", false)
	f("x/y", "a/#", false)
}

func TestRuleCheck(t *testing.T) {
	f := func(r Rule, ok bool) {
		t.Helper()
		if err := r.check(); (err == nil) != ok {
			t.Errorf("check(%+v) = %v; want ok=%v", r, err, ok)
		}
	}
	f(Rule{Subject: AnyClient, Topic: "a/#", Action: All}, true)
	f(Rule{Subject: AnyClient, Name: "x", Topic: "a", Action: All}, false)
	f(Rule{Subject: ByUser, Topic: "a", Action: All}, false)
	f(Rule{Subject: ByIP, Name: "10.0.0.0/8", Topic: "a", Action: Publish}, true)
	f(Rule{Subject: ByIP, Name: "nope", Topic: "a", Action: Publish}, false)
	f(Rule{Subject: ByUser, Name: "u", Topic: "a/#/b", Action: Publish}, false)
	f(Rule{Subject: ByUser, Name: "u", Topic: "a/b+", Action: Publish}, false)
	f(Rule{Subject: ByUser, Name: "u", Topic: "", Action: Publish}, false)
	f(Rule{Subject: ByUser, Name: "u", Topic: "a", Action: 0}, false)
	f(Rule{Subject: ByUser, Name: "u", Topic: "a", Action: Subscribe, IP: "bad"}, false)
	f(Rule{Subject: 9, Name: "u", Topic: "a", Action: Subscribe}, false)
}

// TestMatchQuick checks covers and overlaps against their definitions,
// by brute force over every topic of up to 4 levels from a small
// alphabet, for every pattern and filter of up to 3 levels.
func TestMatchQuick(t *testing.T) {
	words := []string{"a", "b", "$s"}
	var topics []string
	var grow func(prefix string, depth int)
	grow = func(prefix string, depth int) {
		if depth == 4 {
			return
		}
		for _, w := range words {
			if w[0] == '$' && depth > 0 {
				continue
			}
			tp := w
			if depth > 0 {
				tp = prefix + "/" + w
			}
			topics = append(topics, tp)
			grow(tp, depth+1)
		}
	}
	grow("", 0)
	var filters []string
	var growF func(prefix string, depth int)
	growF = func(prefix string, depth int) {
		if depth == 3 {
			return
		}
		for _, w := range append(words, "+", "#") {
			if w[0] == '$' && depth > 0 {
				continue
			}
			f := w
			if depth > 0 {
				f = prefix + "/" + w
			}
			filters = append(filters, f)
			if w != "#" {
				growF(f, depth+1)
			}
		}
	}
	growF("", 0)
	for _, p := range filters {
		pl := strings.Split(p, "/")
		for _, f := range filters {
			fl := strings.Split(f, "/")
			inside, meet := true, false
			for _, tp := range topics {
				inF, inP := matchTopic(fl, []byte(tp)), matchTopic(pl, []byte(tp))
				inside = inside && (!inF || inP)
				meet = meet || inF && inP
			}
			if got := covers(pl, []byte(f)); got != inside {
				t.Errorf("covers(%q, %q) = %v; want %v", p, f, got, inside)
			}
			if got := overlaps(pl, []byte(f)); got != meet {
				t.Errorf("overlaps(%q, %q) = %v; want %v", p, f, got, meet)
			}
		}
	}
}
