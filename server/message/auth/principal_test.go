package auth

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func addRules(t *testing.T, s *Store, rules ...Rule) {
	t.Helper()
	for _, r := range rules {
		if err := s.AddRule(ctx, r); err != nil {
			t.Fatalf("AddRule(%+v): %v", r, err)
		}
	}
}

// TestAuthorize walks the documented order: superuser bypass, first
// matching rule, then the no-match default; placeholders and subjects.
func TestAuthorize(t *testing.T) {
	s := newStore(t, Options{})
	addRules(t, s,
		Rule{Subject: ByUser, Name: "alice", Topic: "secret/#", Action: All, Allow: true},
		Rule{Subject: AnyClient, Topic: "secret/#", Action: All, Allow: false},
		Rule{Subject: AnyClient, Topic: "users/%u/#", Action: All, Allow: true},
		Rule{Subject: AnyClient, Topic: "users/#", Action: All, Allow: false},
		Rule{Subject: ByClient, Name: "dev1", Topic: "dev/%c/cmd", Action: Subscribe, Allow: true},
		Rule{Subject: AnyClient, Topic: "dev/+/cmd", Action: All, Allow: false},
		Rule{Subject: ByIP, Name: "10.1.0.0/16", Topic: "lan/#", Action: Publish, Allow: true},
		Rule{Subject: AnyClient, Topic: "lan/#", Action: Publish, Allow: false},
		Rule{Subject: AnyClient, Topic: "ro/#", Action: Publish, Allow: false},
		Rule{Subject: ByUser, Name: "bob", Topic: "x/y", Action: Publish, Allow: true, IP: "127.0.0.1"},
		Rule{Subject: AnyClient, Topic: "x/y", Action: Publish, Allow: false},
	)
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	alice := s.NewPrincipal("c-alice", "alice", ip("127.0.0.1"), false)
	bob := s.NewPrincipal("c-bob", "bob", ip("10.1.2.3"), false)
	anon := s.NewPrincipal("dev1", "", netip.Addr{}, false)
	root := s.NewPrincipal("r", "root", netip.Addr{}, true)
	pub := func(p *Principal, topic string, want bool) {
		t.Helper()
		if got := p.MayPublish([]byte(topic)); got != want {
			t.Errorf("%s/%s publish %q = %v; want %v", p.ClientID, p.Username, topic, got, want)
		}
	}
	sub := func(p *Principal, filter string, want bool) {
		t.Helper()
		if got := p.MaySubscribe([]byte(filter)); got != want {
			t.Errorf("%s/%s subscribe %q = %v; want %v", p.ClientID, p.Username, filter, got, want)
		}
	}
	pub(alice, "secret/a", true) // first rule
	pub(bob, "secret/a", false)  // second
	sub(bob, "secret/+", false)
	sub(bob, "#", false) // overlaps deny secret/#
	pub(root, "secret/a", true)
	sub(root, "#", true)
	pub(alice, "users/alice/x", true) // %u
	pub(alice, "users/bob/x", false)
	pub(anon, "users/x", false) // %u unresolved: the allow rule applies to nobody
	sub(anon, "dev/dev1/cmd", true)
	sub(bob, "dev/dev1/cmd", false)
	pub(anon, "dev/dev1/cmd", false) // rule 5 is subscribe only; rule 6 denies
	pub(bob, "lan/x", true)          // CIDR subject
	pub(alice, "lan/x", false)
	sub(alice, "lan/x", true) // publish-only rules: default allow
	pub(alice, "ro/x", false)
	pub(alice, "free/x", true) // no match: default allow
	pub(bob, "x/y", false)     // bob's rule needs 127.0.0.1
	bob2 := s.NewPrincipal("c-bob2", "bob", ip("127.0.0.1"), false)
	pub(bob2, "x/y", true)

	// A rule added later applies to existing principals (generation).
	pub(alice, "new/t", true)
	addRules(t, s, Rule{Subject: AnyClient, Topic: "new/#", Action: Publish, Allow: false})
	pub(alice, "new/t", false)
	if err := s.DeleteRule(ctx, Rule{Subject: AnyClient, Topic: "new/#", Action: Publish, Allow: false}); err != nil {
		t.Fatal(err)
	}
	pub(alice, "new/t", true)
	if err := s.DeleteRule(ctx, Rule{Subject: AnyClient, Topic: "new/#", Action: Publish}); err == nil {
		t.Fatal("deleting a missing rule succeeded")
	}

	// Default deny.
	d := newStore(t, Options{DenyNoMatch: true})
	addRules(t, d, Rule{Subject: AnyClient, Topic: "ok/#", Action: All, Allow: true})
	p := d.NewPrincipal("c", "u", netip.Addr{}, false)
	before := deniedCount(ReasonACLPublish)
	pub(p, "ok/1", true)
	pub(p, "other", false)
	sub(p, "ok/#", true)
	sub(p, "#", false)
	if n := deniedCount(ReasonACLPublish) - before; n != 1 {
		t.Errorf("acl_publish denials %d; want 1", n)
	}
}

// TestRulesPersistOrder: the evaluation order survives a reload.
func TestRulesPersistOrder(t *testing.T) {
	be := NewMemory()
	s := newStore(t, Options{Backend: be})
	var want []Rule
	for i := range 300 { // Seq passes 255: big-endian keys keep the order
		r := Rule{Subject: AnyClient, Topic: "t/" + string(rune('a'+i%26)), Action: Publish, Allow: i%2 == 0}
		addRules(t, s, r)
		want = append(want, r)
	}
	got := newStore(t, Options{Backend: be}).Rules()
	if len(got) != len(want) {
		t.Fatalf("reloaded %d rules; want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Seq != uint64(i+1) || !got[i].same(&want[i]) {
			t.Fatalf("rule %d = %+v; want %+v seq %d", i, got[i], want[i], i+1)
		}
	}
}

// notifying is a Memory backend whose Watch hands its callback to the
// test, which calls it as the Meta Service's stream would.
type notifying struct {
	*Memory
	subs chan func()
}

func (n *notifying) Watch(ctx context.Context, changed func()) error {
	n.subs <- changed
	<-ctx.Done()
	return nil
}

// TestFollow: a change written through another Store (another node) on
// the same backend reaches this one through Watch.
func TestFollow(t *testing.T) {
	be := &notifying{Memory: NewMemory(), subs: make(chan func(), 1)}
	a := newStore(t, Options{Backend: be})
	a.Follow()
	changed := <-be.subs
	b := newStore(t, Options{Backend: be.Memory})
	if err := b.SetUser(ctx, "carol", "pw", false); err != nil {
		t.Fatal(err)
	}
	changed()
	deadline := time.Now().Add(5 * time.Second)
	for !a.CheckPassword("carol", "pw") {
		if time.Now().After(deadline) {
			t.Fatal("the followed store never saw the new user")
		}
		time.Sleep(time.Millisecond)
	}
}
