package auth

import (
	"net/netip"
	"strconv"
	"testing"
)

// BenchmarkMayPublish: the publish-path check with N rules applying to
// the client, the last one matching (the worst case of first-match),
// against a baseline of the bare topic match of one rule in the same run.
// Must be 0 allocs/op.
func BenchmarkMayPublish(b *testing.B) {
	topic := []byte("sensors/building-7/floor-3/room-12/temp")
	b.Run("baseline-one-match", func(b *testing.B) {
		levels := []string{"sensors", "+", "floor-3", "#"}
		b.ReportAllocs()
		b.SetBytes(int64(len(topic)))
		for b.Loop() {
			if !matchTopic(levels, topic) {
				b.Fatal("no match")
			}
		}
	})
	for _, n := range []int{1, 10, 100} {
		b.Run("rules-"+strconv.Itoa(n), func(b *testing.B) {
			s := newStore(b, Options{DenyNoMatch: true})
			for i := range n - 1 {
				if err := s.AddRule(ctx, Rule{Subject: ByUser, Name: "u", Topic: "other/" + strconv.Itoa(i) + "/#", Action: Publish, Allow: false}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.AddRule(ctx, Rule{Subject: AnyClient, Topic: "sensors/+/floor-3/#", Action: Publish, Allow: true}); err != nil {
				b.Fatal(err)
			}
			p := s.NewPrincipal("c", "u", netip.MustParseAddr("10.0.0.1"), false)
			p.MayPublish(topic) // compile once
			b.ReportAllocs()
			b.SetBytes(int64(len(topic)))
			for b.Loop() {
				if !p.MayPublish(topic) {
					b.Fatal("denied")
				}
			}
		})
	}
}

func TestMayPublishAllocs(t *testing.T) {
	s := newStore(t, Options{})
	addRules(t, s, Rule{Subject: AnyClient, Topic: "a/%u/#", Action: Publish, Allow: true},
		Rule{Subject: AnyClient, Topic: "#", Action: Publish, Allow: false})
	p := s.NewPrincipal("c", "u", netip.Addr{}, false)
	topic, denied := []byte("a/u/b/c"), []byte("b/c")
	p.MayPublish(topic)
	if n := testing.AllocsPerRun(100, func() {
		if !p.MayPublish(topic) || p.MayPublish(denied) {
			t.Fatal("wrong answer")
		}
	}); n != 0 {
		t.Fatalf("MayPublish allocates %v per run; want 0", n)
	}
}

// BenchmarkConnect: a password login after the user's first (the fast
// HMAC check), against the PBKDF2 verification a first login costs, in
// the same run.
func BenchmarkConnect(b *testing.B) {
	s := newStore(b, Options{Iterations: DefaultIterations})
	if err := s.SetUser(ctx, "u", "pw", false); err != nil {
		b.Fatal(err)
	}
	l := login("u", "pw", "c", "10.0.0.1")
	b.Run("pbkdf2-first-login", func(b *testing.B) {
		u := s.snap.Load().users["u"]
		b.ReportAllocs()
		for b.Loop() {
			if !u.sec.verify("pw") {
				b.Fatal("refused")
			}
		}
	})
	b.Run("login", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Connect(l); err != nil {
				b.Fatal(err)
			}
		}
	})
}
