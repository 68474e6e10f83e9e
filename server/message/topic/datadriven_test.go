package topic

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestDataDriven runs the scenarios in testdata/index. Regenerate the
// expected output with -rewrite and review the diff.
//
// Commands (arguments key=value; filters and topics one per input line, in
// the protocol's own syntax, converted through FromMQTT / FilterFromNATS):
//
//	new [pick=rr|random] [seed=N] [shards=N] [cache=N]
//	sub id=N proto=mqtt|nats [queue=G]      prints ok or the error per filter
//	unsub id=N proto=mqtt|nats [queue=G]
//	remove-all id=N                         every filter id subscribed here
//	match proto=mqtt|nats                   "topic -> entries", sorted;
//	                                        a group member prints as group:id
//	count
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/index", func(t *testing.T, path string) {
		d := &ddIndex{ix: New(Config{}), filters: map[uint64][]Filter{}}
		datadriven.RunTest(t, path, d.run)
	})
}

type ddIndex struct {
	ix      *Index
	filters map[uint64][]Filter // per subscriber, for remove-all
}

func ddArg(td *datadriven.TestData, key, def string) string {
	for _, a := range td.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		}
	}
	return def
}

func ddInt(t *testing.T, td *datadriven.TestData, key string, def int) int {
	v := ddArg(td, key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %s=%q: %v", td.Pos, key, v, err)
	}
	return n
}

func ddDialect(t *testing.T, td *datadriven.TestData) Dialect {
	switch p := ddArg(td, "proto", ""); p {
	case "mqtt":
		return MQTT
	case "nats":
		return NATS
	default:
		t.Fatalf("%s: proto=%q: want mqtt or nats", td.Pos, p)
		return 0
	}
}

// ddFilter converts and parses one input line.
func ddFilter(line string, d Dialect, queue string) (Filter, error) {
	b := []byte(line)
	if d == NATS {
		var err error
		if b, err = FilterFromNATS(nil, b); err != nil {
			return Filter{}, err
		}
	} else if _, err := FromMQTT(b); err != nil {
		return Filter{}, err
	}
	var g []byte
	if queue != "" {
		g = []byte(queue)
	}
	return ParseFilter(b, d, g)
}

func ddErr(err error) string {
	if err == nil {
		return "ok"
	}
	// The sentinel only: the wrapped detail is for operators.
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	return "error: " + err.Error()
}

func (d *ddIndex) run(t *testing.T, td *datadriven.TestData) string {
	var out strings.Builder
	lines := strings.Split(strings.TrimSpace(td.Input), "\n")
	id := uint64(ddInt(t, td, "id", 0))
	switch td.Cmd {
	case "new":
		pick := RoundRobin
		if ddArg(td, "pick", "rr") == "random" {
			pick = Random
		}
		d.ix = New(Config{Pick: pick, Seed: uint64(ddInt(t, td, "seed", 1)), Shards: ddInt(t, td, "shards", 0), CacheSize: ddInt(t, td, "cache", 0)})
		d.filters = map[uint64][]Filter{}
		return "ok\n"
	case "sub", "unsub":
		dl := ddDialect(t, td)
		for _, line := range lines {
			f, err := ddFilter(line, dl, ddArg(td, "queue", ""))
			if err == nil && td.Cmd == "sub" {
				if err = d.ix.Subscribe(f, Subscriber{ID: id}, nil); err == nil {
					d.filters[id] = append(d.filters[id], f)
				}
			} else if err == nil {
				err = d.ix.Unsubscribe(f, id)
			}
			out.WriteString(line + ": " + ddErr(err) + "\n")
		}
	case "remove-all":
		out.WriteString("removed " + strconv.Itoa(d.ix.RemoveAll(id, d.filters[id])) + "\n")
		delete(d.filters, id)
	case "match":
		dl := ddDialect(t, td)
		var buf []byte
		for _, line := range lines {
			var err error
			if dl == NATS {
				buf, err = FromNATS(buf[:0], []byte(line))
			} else {
				buf, err = FromMQTT([]byte(line))
			}
			if err != nil {
				out.WriteString(line + " -> " + ddErr(err) + "\n")
				continue
			}
			var got []string
			for _, e := range d.ix.Match(buf, nil) {
				s := strconv.FormatUint(e.ID, 10)
				if e.Group != nil {
					s = e.Group.Name() + ":" + s
				}
				got = append(got, s)
			}
			slices.Sort(got)
			out.WriteString(line + " -> " + strings.Join(got, " ") + "\n")
		}
	case "count":
		out.WriteString("subscriptions " + strconv.FormatInt(d.ix.Count(), 10) + " groups " + strconv.FormatInt(d.ix.Groups(), 10) + "\n")
	default:
		t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	}
	return out.String()
}
