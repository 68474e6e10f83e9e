package topic

import (
	"errors"
	"testing"
)

// convCase checks one converter call; conv is the topic-name converter
// and filterConv its filter twin.
func convCase(t *testing.T, name string, conv, filterConv func(dst, b []byte) ([]byte, error)) func(in string, filter bool, want string, wantErr error) {
	return func(in string, filter bool, want string, wantErr error) {
		t.Helper()
		c := conv
		if filter {
			c = filterConv
		}
		got, err := c(nil, []byte(in))
		if !errors.Is(err, wantErr) || (err == nil && string(got) != want) {
			t.Fatalf("%s(%q, filter %v) = %q, %v; want %q, %v", name, in, filter, got, err, want, wantErr)
		}
	}
}

func TestToNATS(t *testing.T) {
	f := convCase(t, "ToNATS", ToNATS, FilterToNATS)
	f("a/b/c", false, "a.b.c", nil)
	f("a", false, "a", nil)
	f("a//b", false, "a.%.b", nil)
	f("/a", false, "%.a", nil)
	f("a/", false, "a.%", nil)
	f("/", false, "%.%", nil)
	f("a.b/c", false, "a%2Eb.c", nil)
	f("x y", false, "x%20y", nil)
	f("t\tab", false, "t%09ab", nil)
	f("100%", false, "100%25", nil)
	f("a/*", false, "a.%2A", nil)
	f("a/>", false, "a.%3E", nil)
	f("a/b*c>", false, "a.b*c>", nil) // partial '*' and '>' are literals in NATS
	f("$SYS/é", false, "$SYS.é", nil)
	f("a/+", false, "", ErrWildcard)
	f("#", false, "", ErrWildcard)
	f("", false, "", ErrEmpty)
	f("a\x00", false, "", ErrNUL)
	f("a/+/#", true, "a.*.>", nil)
	f("+", true, "*", nil)
	f("a/*", true, "a.%2A", nil)
}

func TestFromNATS(t *testing.T) {
	f := convCase(t, "FromNATS", FromNATS, FilterFromNATS)
	f("a.b.c", false, "a/b/c", nil)
	f("a.%.b", false, "a//b", nil)
	f("%.a", false, "/a", nil)
	f("a%2Eb.c", false, "a.b/c", nil)
	f("x%20y", false, "x y", nil)
	f("100%25", false, "100%", nil)
	f("%2A", false, "*", nil)
	f("a.%3E", false, "a/>", nil)
	f("a.b*c>", false, "a/b*c>", nil)
	f("$SYS.é", false, "$SYS/é", nil)
	f("", false, "", ErrEmpty)
	f("%", false, "", ErrEmpty)
	f("a..b", false, "", ErrNATSSubject)
	f(".a", false, "", ErrNATSSubject)
	f("a.", false, "", ErrNATSSubject)
	f("a b", false, "", ErrNATSSubject)
	f("a\x00", false, "", ErrNATSSubject)
	f("a/b", false, "", ErrUnmappable)
	f("a+b", false, "", ErrUnmappable)
	f("a.#", false, "", ErrUnmappable)
	f("a.*", false, "", ErrWildcard)
	f("a.>", false, "", ErrWildcard)
	f("a%", false, "", ErrEscape)
	f("a%2", false, "", ErrEscape)
	f("%41", false, "", ErrEscape)   // not an escaped byte: only canonical escapes decode
	f("%2e", false, "", ErrEscape)   // lower-case hex is not canonical
	f("%00", false, "", ErrEscape)   // canonical topics have no NUL
	f("a%2Ab", false, "", ErrEscape) // '*' is escaped only as a whole level
	f("a.*.>", true, "a/+/#", nil)
	f(">", true, "#", nil)
	f("*", true, "+", nil)
	f("a.>.b", true, "", ErrNATSWild)
}

// TestConvertNoAlloc: with a reused buffer the converters do not allocate.
func TestConvertNoAlloc(t *testing.T) {
	buf := make([]byte, 0, 64)
	mq := []byte("sensors/building.7/floor 2/temp")
	nats := []byte("sensors.building%2E7.floor%202.temp")
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = ToNATS(buf[:0], mq); err != nil || string(buf) != string(nats) {
			t.Fatalf("ToNATS(%q) = %q, %v; want %q", mq, buf, err, nats)
		}
		if buf, err = FromNATS(buf[:0], nats); err != nil || string(buf) != string(mq) {
			t.Fatalf("FromNATS(%q) = %q, %v; want %q", nats, buf, err, mq)
		}
		if b, err := FromMQTT(mq); err != nil || &b[0] != &mq[0] {
			t.Fatalf("FromMQTT copied or failed: %v", err)
		}
	})
	if allocs != 0 {
		t.Fatalf("converters allocated %v times per run; want 0", allocs)
	}
	if b := ToMQTT(mq); &b[0] != &mq[0] {
		t.Fatal("ToMQTT copied")
	}
	if _, err := FromMQTT(nil); !errors.Is(err, ErrEmpty) {
		t.Fatalf("FromMQTT(nil) = %v; want ErrEmpty", err)
	}
	if _, err := FromMQTT([]byte("a\x00")); !errors.Is(err, ErrNUL) {
		t.Fatalf("FromMQTT(NUL) = %v; want ErrNUL", err)
	}
}
