package auth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Action is what a client asks to do with a topic.
type Action uint8

const (
	Publish   Action = 1 << iota // PUBLISH to a topic name (also a will)
	Subscribe                    // SUBSCRIBE to a filter
	All       = Publish | Subscribe
)

// Subject selects the clients a rule applies to.
type Subject uint8

const (
	AnyClient Subject = iota // every client ("All")
	ByUser                   // user name == Rule.Name ("Username")
	ByClient                 // client id == Rule.Name ("ClientId")
	ByIP                     // address in Rule.Name, an IP or CIDR ("IpAddress")
)

// Rule is one ACL entry. Rules are evaluated in creation order (see the
// package doc); Seq is that order and the rule's key.
type Rule struct {
	Seq     uint64
	Subject Subject
	Name    string // user name, client id or IP/CIDR; "" for AnyClient
	// Topic is an MQTT filter ('+', '#') in which "%u" stands for the
	// client's user name and "%c" for its client id.
	Topic string
	// IP optionally narrows the rule to clients from an address or CIDR
	// ("" = any), RobustMQ's "ip" field.
	IP     string
	Action Action
	Allow  bool
}

// Errors of rules and bans.
var (
	ErrBadRule = errors.New("auth: bad ACL rule")
	ErrBadBan  = errors.New("auth: bad blacklist entry")
)

// Names of subjects and actions in RobustMQ's admin API.
var (
	subjectNames = names{AnyClient: "All", ByUser: "Username", ByClient: "ClientId", ByIP: "IpAddress"}
	actionNames  = names{Publish: "Publish", Subscribe: "Subscribe", All: "All"}
)

func (s Subject) String() string { return subjectNames.name(int(s), "Subject") }
func (a Action) String() string  { return actionNames.name(int(a), "Action") }

// ParseSubject reads a subject name (case-insensitive).
func ParseSubject(s string) (Subject, bool) {
	i, ok := subjectNames.parse(s)
	return Subject(i), ok
}

// ParseAction reads an action name (case-insensitive).
func ParseAction(s string) (Action, bool) {
	i, ok := actionNames.parse(s)
	return Action(i), ok
}

// names are the admin API names of an enum, indexed by value ("" = no
// such value).
type names []string

func (n names) name(i int, kind string) string {
	if i >= 0 && i < len(n) && n[i] != "" {
		return n[i]
	}
	return kind + "(" + strconv.Itoa(i) + ")"
}

func (n names) parse(s string) (int, bool) {
	for i, v := range n {
		if v != "" && strings.EqualFold(v, s) {
			return i, true
		}
	}
	return 0, false
}

// parsePrefix reads an IP or a CIDR.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// check validates r; the error names the field.
func (r *Rule) check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrBadRule, what) }
	switch r.Subject {
	case AnyClient:
		if r.Name != "" {
			return bad("resource_name must be empty for All")
		}
	case ByUser, ByClient:
		if r.Name == "" {
			return bad("resource_name is empty")
		}
	case ByIP:
		if _, err := parsePrefix(r.Name); err != nil {
			return bad("resource_name " + r.Name + " is not an IP or CIDR")
		}
	default:
		return bad("unknown resource_type")
	}
	if r.IP != "" && r.IP != "*" {
		if _, err := parsePrefix(r.IP); err != nil {
			return bad("ip " + r.IP + " is not an IP or CIDR")
		}
	}
	if r.Action == 0 || r.Action > All {
		return bad("unknown action")
	}
	if err := checkPattern(r.Topic); err != nil {
		return bad("topic " + r.Topic + ": " + err.Error())
	}
	return nil
}

// checkPattern validates an ACL topic: an MQTT filter ('#' only as the
// whole last level, '+' as a whole level).
func checkPattern(t string) error {
	if t == "" {
		return errors.New("empty")
	}
	levels := strings.Split(t, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return errors.New("'#' not last")
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return errors.New("wildcard inside a level")
		}
	}
	return nil
}

// ACL record, table ACL, key = Seq as 8 bytes big-endian (so the
// backend's key order is the evaluation order; frozen):
//
//	version  byte 1
//	subject  byte (Subject)
//	action   byte (Action)
//	allow    byte 0 | 1
//	name     string    topic  string    ip  string
//	(string = uvarint length, then the bytes)
func (r *Rule) key() []byte { return binary.BigEndian.AppendUint64(nil, r.Seq) }

func (r *Rule) marshal() []byte {
	b := []byte{recordVersion, byte(r.Subject), byte(r.Action), 0}
	if r.Allow {
		b[3] = 1
	}
	b = appendString(b, r.Name)
	b = appendString(b, r.Topic)
	return appendString(b, r.IP)
}

func unmarshalRule(key, b []byte) (Rule, error) {
	var r Rule
	if len(key) != 8 {
		return r, fmt.Errorf("%w: ACL key %x is not 8 bytes", ErrCorrupt, key)
	}
	r.Seq = binary.BigEndian.Uint64(key)
	rd := reader{b: b}
	rd.version()
	r.Subject = Subject(rd.byte("subject"))
	r.Action = Action(rd.byte("action"))
	r.Allow = rd.byte("allow") == 1
	r.Name = rd.string("name")
	r.Topic = rd.string("topic")
	r.IP = rd.string("ip")
	if err := rd.end(); err != nil {
		return r, err
	}
	if err := r.check(); err != nil {
		return r, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, nil
}

// same reports whether r and o are the same rule but for Seq (deletion
// by content, as RobustMQ's API deletes).
func (r *Rule) same(o *Rule) bool {
	return r.Subject == o.Subject && r.Name == o.Name && r.Topic == o.Topic && r.IP == o.IP &&
		r.Action == o.Action && r.Allow == o.Allow
}

// crule is a rule compiled for one principal: its subject matched, its
// placeholders substituted, its topic split into levels.
type crule struct {
	levels []string
	action Action
	allow  bool
}

// compile keeps the rules that apply to p, in order.
func compile(rules []Rule, p *Principal) []crule {
	var out []crule
	for i := range rules {
		r := &rules[i]
		if !r.applies(p) {
			continue
		}
		t := r.Topic
		if strings.Contains(t, "%u") {
			if p.Username == "" {
				continue // EMQX: an unresolved placeholder matches nothing
			}
			t = strings.ReplaceAll(t, "%u", p.Username)
		}
		if strings.Contains(t, "%c") {
			if p.ClientID == "" {
				continue
			}
			t = strings.ReplaceAll(t, "%c", p.ClientID)
		}
		out = append(out, crule{levels: strings.Split(t, "/"), action: r.Action, allow: r.Allow})
	}
	return out
}

func (r *Rule) applies(p *Principal) bool {
	switch r.Subject {
	case ByUser:
		if p.Username != r.Name {
			return false
		}
	case ByClient:
		if p.ClientID != r.Name {
			return false
		}
	case ByIP:
		if !inPrefix(r.Name, p.IP) {
			return false
		}
	}
	return r.IP == "" || r.IP == "*" || inPrefix(r.IP, p.IP)
}

func inPrefix(s string, a netip.Addr) bool {
	pf, err := parsePrefix(s)
	return err == nil && a.IsValid() && pf.Contains(a.Unmap())
}

// Topic matching. pattern is an ACL filter split into levels; the other
// side is a topic name (publish) or a subscription filter (subscribe).
// Levels of the subject are walked in place: no allocation. As in MQTT
// (4.7.2), a pattern starting with a wildcard does not match a topic or
// filter starting with '$'.

// nextLevel splits t at its first '/': the level and the rest; more is
// false for the last level.
func nextLevel(t []byte) (level, rest []byte, more bool) {
	for i, c := range t {
		if c == '/' {
			return t[:i], t[i+1:], true
		}
	}
	return t, nil, false
}

// matchMode is what match compares.
type matchMode uint8

const (
	name    matchMode = iota // a topic name matches the pattern
	cover                    // every topic the filter matches, the pattern matches
	overlap                  // some topic matches both the filter and the pattern
)

// matchTopic: topic name t matches pattern (a publish).
func matchTopic(pattern []string, t []byte) bool { return match(pattern, t, name) }

// covers: filter f is inside pattern (an allow rule grants a
// subscription only if it covers it).
func covers(pattern []string, f []byte) bool { return match(pattern, f, cover) }

// overlaps: some topic matches both f and pattern (a deny rule refuses a
// subscription that could receive any topic it denies).
func overlaps(pattern []string, f []byte) bool { return match(pattern, f, overlap) }

func match(pattern []string, t []byte, m matchMode) bool {
	if len(pattern) == 0 || len(t) > 0 && t[0] == '$' && (pattern[0] == "+" || pattern[0] == "#") {
		return false
	}
	if m == overlap && pattern[0] != "" && pattern[0][0] == '$' {
		if l, _, _ := nextLevel(t); string(l) == "+" || string(l) == "#" {
			return false // the filter's leading wildcard cannot reach a '$' topic
		}
	}
	for i, p := range pattern {
		if p == "#" {
			return true
		}
		l, rest, more := nextLevel(t)
		switch {
		case m == overlap && string(l) == "#":
			return true
		case m == cover && string(l) == "#":
			// The filter reaches every deeper level (and, below the first
			// level, the parent): only "#" (above) or, at the first level,
			// "+/#" matches all of that.
			return i == 0 && p == "+" && len(pattern) == 2 && pattern[1] == "#"
		case p == "+" || p == string(l):
		case m == overlap && string(l) == "+":
		default:
			return false
		}
		if !more {
			// "a/#" also matches "a" (4.7.1.2)
			return i == len(pattern)-1 || i == len(pattern)-2 && pattern[i+1] == "#"
		}
		t = rest
	}
	if m == overlap { // pattern "a", filter "a/#": '#' matches the parent
		l, _, more := nextLevel(t)
		return !more && string(l) == "#"
	}
	return false
}
