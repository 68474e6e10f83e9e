package topic

import (
	"bytes"
	"testing"
)

// FuzzNATS: a NATS subject that converts comes back byte for byte, and
// its canonical form keeps the canonical invariants. The input is split in
// halves: the first half is a prefix already in dst, which must survive.
func FuzzNATS(f *testing.F) {
	for _, s := range []string{"a.b.c", "a.%.b", "a%2Eb.c", "x%20y", "100%25", "%2A", "a.*.>", ">", "a..b", "a/b", "%41", "$SYS.é"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, s []byte, filter bool) {
		prefix := s[:len(s)/2]
		from, to := FromNATS, ToNATS
		if filter {
			from, to = FilterFromNATS, FilterToNATS
		}
		c, err := from(bytes.Clone(prefix), s)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(c, prefix) {
			t.Fatalf("FromNATS(%q) dropped the dst prefix %q: %q", s, prefix, c)
		}
		c = c[len(prefix):]
		if _, err := FromMQTT(c); err != nil {
			t.Fatalf("FromNATS(%q) = %q, not canonical: %v", s, c, err)
		}
		if filter {
			if _, err := ParseFilter(c, NATS, nil); err != nil {
				t.Fatalf("FilterFromNATS(%q) = %q, not a filter: %v", s, c, err)
			}
		}
		back, err := to(nil, c)
		if err != nil || !bytes.Equal(back, s) {
			t.Fatalf("NATS %q -> %q -> %q, %v; want the input back", s, c, back, err)
		}
	})
}

// FuzzMQTT: an MQTT topic name or filter survives ToNATS and FromNATS.
func FuzzMQTT(f *testing.F) {
	for _, s := range []string{"a/b/c", "a//b", "/", "a.b/c", "x y", "100%", "a/*", "a/>", "a/+/#", "#", "$SYS/x", "a\tb"} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, s []byte, filter bool) {
		if _, err := FromMQTT(s); err != nil {
			return
		}
		from, to := FromNATS, ToNATS
		if filter {
			if _, err := ParseFilter(s, NATS, nil); err != nil {
				return
			}
			from, to = FilterFromNATS, FilterToNATS
		} else if bytes.ContainsAny(s, "+#") {
			return // not an MQTT topic name [MQTT-3.3.2-2]
		}
		n, err := to(nil, s)
		if err != nil {
			t.Fatalf("ToNATS(%q): %v", s, err)
		}
		back, err := from(nil, n)
		if err != nil || !bytes.Equal(back, s) {
			t.Fatalf("MQTT %q -> %q -> %q, %v; want the input back", s, n, back, err)
		}
	})
}

// FuzzFilter: a filter ParseFilter accepts can be subscribed, matches a
// topic built from it (wildcards filled in), and unsubscribes cleanly.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"a/+/#", "#", "+", "$share/g/a/b", "$exclusive/t/1", "$SYS/#", "a//b", "sport/tennis#", "$share/g"} {
		f.Add([]byte(s), true, []byte(nil))
		f.Add([]byte(s), false, []byte("q"))
	}
	f.Fuzz(func(t *testing.T, b []byte, mqtt bool, group []byte) {
		d := NATS
		if mqtt {
			d = MQTT
		}
		flt, err := ParseFilter(b, d, group)
		if err != nil {
			return
		}
		var topic []byte
		for i, lvl := range bytes.Split([]byte(flt.Path()), []byte("/")) {
			if i > 0 {
				topic = append(topic, '/')
			}
			switch string(lvl) {
			case "+":
				topic = append(topic, 'x')
			case "#":
				topic = append(topic, "y/z"...)
			default:
				topic = append(topic, lvl...)
			}
		}
		ix := New(Config{Shards: 2})
		if err := ix.Subscribe(flt, sub(1), nil); err != nil {
			t.Fatalf("Subscribe(%q): %v", b, err)
		}
		if got := ix.Match(topic, nil); len(got) != 1 || got[0].ID != 1 {
			t.Fatalf("filter %q: Match(%q) = %v; want subscriber 1", b, topic, ids(got))
		}
		if err := ix.Unsubscribe(flt, 1); err != nil {
			t.Fatalf("Unsubscribe(%q): %v", b, err)
		}
		if ix.Count() != 0 || len(ix.Match(topic, nil)) != 0 {
			t.Fatalf("filter %q still matches after Unsubscribe", b)
		}
	})
}
