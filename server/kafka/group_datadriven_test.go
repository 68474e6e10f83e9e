package kafka

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"robustmq/codec/kafka"
)

// capture is a pending answer recorded for the scenario output.
type capture struct {
	h  *groupHarness
	as string
}

func (c capture) answer(m kafka.Message) { c.h.out = append(c.h.out, c.h.describe(c.as, m)) }

// groupHarness runs the coordinator without sockets: member ids get
// aliases m1, m2... in the order they first appear, time is a counter.
type groupHarness struct {
	co      *coordinator
	now     time.Time
	alias   map[string]string // id -> alias
	ids     map[string]string // alias -> id
	out     []string
	nextAls int
}

func (h *groupHarness) name(id string) string {
	if id == "" {
		return `""`
	}
	if a, ok := h.alias[id]; ok {
		return a
	}
	h.nextAls++
	a := "m" + strconv.Itoa(h.nextAls)
	h.alias[id], h.ids[a] = a, id
	return a
}

func (h *groupHarness) describe(as string, m kafka.Message) string {
	switch r := m.(type) {
	case *kafka.JoinGroupResponse:
		s := fmt.Sprintf("%s: join %v member=%s", as, kafka.ErrorCode(r.ErrorCode), h.name(string(r.MemberID)))
		if r.ErrorCode == 0 {
			s += fmt.Sprintf(" gen=%d protocol=%s leader=%s", r.GenerationID, r.ProtocolName, h.name(string(r.Leader)))
			if len(r.Members) > 0 {
				var ms []string
				for _, mm := range r.Members {
					ms = append(ms, h.name(string(mm.MemberID)))
				}
				s += " members=" + strings.Join(ms, ",")
			}
		}
		return s
	case *kafka.SyncGroupResponse:
		return fmt.Sprintf("%s: sync %v assignment=%q", as, kafka.ErrorCode(r.ErrorCode), r.Assignment)
	}
	return fmt.Sprintf("%s: %T", as, m)
}

func (h *groupHarness) id(d *datadriven.TestData, key string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			if id, ok := h.ids[a.Vals[0]]; ok {
				return id
			}
			return a.Vals[0]
		}
	}
	return ""
}

func arg(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		}
	}
	return def
}

func num(t *testing.T, d *datadriven.TestData, key string, def int) int {
	v, err := strconv.Atoi(arg(d, key, strconv.Itoa(def)))
	if err != nil {
		t.Fatalf("%s: %s: %v", d.Pos, key, err)
	}
	return v
}

// TestGroupDatadriven runs testdata/group*.txt through the coordinator:
//
//	join as=<client> [member=<alias>] [instance=<id>] [session=ms] [rebalance=ms] [protocols=a,b] [version=N]
//	sync as=<client> member=<alias> gen=N [assign=<alias>:<bytes>,...]
//	heartbeat member=<alias> gen=N
//	commit member=<alias> gen=N
//	leave member=<alias>
//	tick ms=N
//	describe
//
// Each command prints the answers delivered while it ran.
func TestGroupDatadriven(t *testing.T) {
	datadriven.Walk(t, "testdata/group", func(t *testing.T, path string) {
		h := &groupHarness{co: newCoordinator(&Server{}), now: time.Unix(1000, 0), alias: map[string]string{},
			ids: map[string]string{}}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			h.out = h.out[:0]
			gen := int32(num(t, d, "gen", -1))
			switch d.Cmd {
			case "join":
				r := joinReq{group: "g", member: h.id(d, "member"), instance: arg(d, "instance", ""), clientID: "c",
					protocolType: "consumer", version: int16(num(t, d, "version", 9)),
					session:   time.Duration(num(t, d, "session", 10000)) * time.Millisecond,
					rebalance: time.Duration(num(t, d, "rebalance", 10000)) * time.Millisecond}
				for _, p := range strings.Split(arg(d, "protocols", "range"), ",") {
					r.protocols = append(r.protocols, protocol{name: p})
				}
				h.co.join(r, capture{h, arg(d, "as", "?")}, h.now)
			case "sync":
				r := syncReq{group: "g", member: h.id(d, "member"), generation: gen}
				if a := arg(d, "assign", ""); a != "" {
					r.assignments = map[string][]byte{}
					for _, kv := range strings.Split(a, ",") {
						k, v, _ := strings.Cut(kv, ":")
						r.assignments[h.ids[k]] = []byte(v)
					}
				}
				h.co.sync(r, capture{h, arg(d, "as", "?")}, h.now)
			case "heartbeat":
				h.out = append(h.out, "heartbeat "+h.co.heartbeat("g", h.id(d, "member"), gen, h.now).String())
			case "commit":
				h.out = append(h.out, "commit "+h.co.commitCheck("g", h.id(d, "member"), gen).String())
			case "leave":
				codes := h.co.leave("g", []string{h.id(d, "member")}, []string{""}, h.now)
				h.out = append(h.out, "leave "+codes[0].String())
			case "tick":
				h.now = h.now.Add(time.Duration(num(t, d, "ms", 0)) * time.Millisecond)
				h.co.expire(h.now)
			case "describe":
				v, ok := h.co.view("g")
				if !ok {
					return "no group\n"
				}
				h.co.mu.Lock()
				g := h.co.groups["g"]
				line := fmt.Sprintf("state=%s gen=%d leader=%s", v.state, g.generation, h.name(g.leader))
				h.co.mu.Unlock()
				var ms []string
				for _, m := range v.members {
					ms = append(ms, h.name(m.id))
				}
				return line + " members=" + strings.Join(ms, ",") + "\n"
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			if len(h.out) == 0 {
				return "(no answer)\n"
			}
			// Answers of one command go to different clients, whose relative order carries no meaning (the
			// coordinator completes waiting members in map order): print them sorted.
			out := slices.Clone(h.out)
			slices.Sort(out)
			return strings.Join(out, "\n") + "\n"
		})
	})
}
