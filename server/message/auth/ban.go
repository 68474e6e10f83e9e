package auth

import (
	"fmt"
	"net/netip"
	"regexp"
)

// BanKind is what a blacklist entry names.
type BanKind uint8

const (
	BanClientID      BanKind = iota + 1 // "ClientId"
	BanUser                             // "Username"
	BanIP                               // "IpAddress": one address
	BanCIDR                             // "IPCIDR": a network
	BanClientIDMatch                    // "ClientIdMatch": client ids matching a regular expression
	BanUserMatch                        // "UserMatch": user names matching a regular expression
)

var banNames = names{BanClientID: "ClientId", BanUser: "Username", BanIP: "IpAddress", BanCIDR: "IPCIDR",
	BanClientIDMatch: "ClientIdMatch", BanUserMatch: "UserMatch"}

// maxBanPattern bounds a ClientIdMatch or UserMatch expression; Go's
// regexp (RE2) matches in time linear in the input, so a pattern cannot
// stall a CONNECT, only its size costs.
const maxBanPattern = 1024

func (k BanKind) String() string { return banNames.name(int(k), "BanKind") }

// ParseBanKind reads a blacklist type (case-insensitive).
func ParseBanKind(s string) (BanKind, bool) {
	i, ok := banNames.parse(s)
	return BanKind(i), ok
}

// Ban is one blacklist entry.
type Ban struct {
	Kind  BanKind
	Name  string // client id, user name, IP or CIDR
	Until int64  // unix seconds after which the entry no longer applies; 0 = never
	Desc  string
}

func (b *Ban) check() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrBadBan, what) }
	switch b.Kind {
	case BanClientID, BanUser:
		if b.Name == "" {
			return bad("resource_name is empty")
		}
	case BanIP:
		if _, err := netip.ParseAddr(b.Name); err != nil {
			return bad("resource_name " + b.Name + " is not an IP address")
		}
	case BanCIDR:
		if _, err := netip.ParsePrefix(b.Name); err != nil {
			return bad("resource_name " + b.Name + " is not a CIDR")
		}
	case BanClientIDMatch, BanUserMatch:
		if b.Name == "" || len(b.Name) > maxBanPattern {
			return bad(fmt.Sprintf("resource_name: a regular expression of 1 to %d bytes", maxBanPattern))
		}
		if _, err := regexp.Compile(b.Name); err != nil {
			return bad("resource_name " + b.Name + ": " + err.Error())
		}
	default:
		return bad("unknown blacklist_type")
	}
	if b.Until < 0 {
		return bad("end_time is negative")
	}
	return nil
}

// Blacklist record, table Blacklist, key = kind byte | name (frozen):
//
//	version  byte 1
//	until    uvarint unix seconds (0 = never)
//	desc     string (uvarint length, then the bytes)
func (b *Ban) key() []byte { return append([]byte{byte(b.Kind)}, b.Name...) }

func (b *Ban) marshal() []byte {
	out := appendUvarint([]byte{recordVersion}, uint64(b.Until))
	return appendString(out, b.Desc)
}

func unmarshalBan(key, v []byte) (Ban, error) {
	var b Ban
	if len(key) < 2 {
		return b, fmt.Errorf("%w: blacklist key %x too short", ErrCorrupt, key)
	}
	b.Kind, b.Name = BanKind(key[0]), string(key[1:])
	r := reader{b: v}
	r.version()
	b.Until = int64(r.uvarint("until"))
	b.Desc = r.string("desc")
	if err := r.end(); err != nil {
		return b, err
	}
	if err := b.check(); err != nil {
		return b, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return b, nil
}

// bans is the blacklist as looked up at CONNECT.
type bans struct {
	exact    map[string]int64 // kind byte | name -> until (client id, user, IP)
	nets     []netBan
	patterns []patternBan // every one is tried at each CONNECT
}

type netBan struct {
	p     netip.Prefix
	until int64
}

type patternBan struct {
	user  bool // matches the user name, else the client id
	re    *regexp.Regexp
	until int64
}

func newBans(list []Ban) bans {
	bs := bans{exact: make(map[string]int64, len(list))}
	for _, b := range list {
		switch b.Kind {
		case BanCIDR:
			p, _ := netip.ParsePrefix(b.Name) // checked
			bs.nets = append(bs.nets, netBan{p.Masked(), b.Until})
		case BanIP:
			a, _ := netip.ParseAddr(b.Name)
			bs.exact[string(byte(BanIP))+a.Unmap().String()] = b.Until
		case BanClientIDMatch, BanUserMatch:
			bs.patterns = append(bs.patterns, patternBan{b.Kind == BanUserMatch, regexp.MustCompile(b.Name), b.Until}) // checked
		default:
			bs.exact[string(byte(b.Kind))+b.Name] = b.Until
		}
	}
	return bs
}

// banned reports whether the client is blacklisted at unix second now.
func (bs *bans) banned(clientID, user string, hasUser bool, ip netip.Addr, now int64) bool {
	live := func(until int64, ok bool) bool { return ok && (until == 0 || now < until) }
	if len(bs.exact) > 0 {
		u, ok := bs.exact[string(byte(BanClientID))+clientID]
		if live(u, ok) {
			return true
		}
		if hasUser {
			if u, ok = bs.exact[string(byte(BanUser))+user]; live(u, ok) {
				return true
			}
		}
		if ip.IsValid() {
			if u, ok = bs.exact[string(byte(BanIP))+ip.Unmap().String()]; live(u, ok) {
				return true
			}
		}
	}
	for _, n := range bs.nets {
		if ip.IsValid() && n.p.Contains(ip.Unmap()) && live(n.until, true) {
			return true
		}
	}
	for _, p := range bs.patterns {
		if !live(p.until, true) || p.user && !hasUser {
			continue
		}
		if p.user && p.re.MatchString(user) || !p.user && p.re.MatchString(clientID) {
			return true
		}
	}
	return false
}
