package shard_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/pebblestore"
)

// TestRouterDataDriven runs the scenarios in testdata/router against a
// Router over a memory and a pebble engine. Regenerate the expected output
// with -rewrite and review the diff.
//
// Commands (arguments are key=value):
//
//	create-topic name= partitions= engine= [retention-bytes=]
//	create-shard name= engine=
//	delete-shard name= / delete-topic name=
//	partition topic= [key=] [explicit=]
//	append shard= [durability=none|sync]   input: one record per line:
//	    [key=K|key=<nil>] [ts=N] [tags=a,b] [hdr=name:value] value=V
//	read shard= offset= [max-records=] [max-bytes=]
//	read-key shard= key= [from=] [max=] / read-tag shard= tag= [from=] [max=]
//	time shard= ts=
//	delete-records shard= before=
//	wait shard= offset= id=       (prints when waiters fire)
//	cancel id=
//	list / stats engine=
func TestRouterDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/router", func(t *testing.T, path string) {
		p, err := pebblestore.Open(t.TempDir(), pebblestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := newRouter(t, memory.New(memory.Options{}), p)
		defer r.Close()
		d := &ddRouter{r: r, cancels: map[string]func() bool{}}
		datadriven.RunTest(t, path, d.run)
	})
}

type ddRouter struct {
	r       *shard.Router
	cancels map[string]func() bool
	fired   []string // waiter ids fired since the last command printed them
}

func arg(td *datadriven.TestData, key, def string) string {
	for _, a := range td.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		}
	}
	return def
}

func argInt(t *testing.T, td *datadriven.TestData, key string, def int64) int64 {
	v := arg(td, key, "")
	if v == "" {
		return def
	}
	var n int64
	if _, err := fmt.Sscan(v, &n); err != nil {
		t.Fatalf("%s: %s=%q: %v", td.Pos, key, v, err)
	}
	return n
}

// errName prints an error by its sentinel so output does not depend on
// engine wording.
func errName(err error) string {
	for _, s := range []error{shard.ErrShardNotFound, shard.ErrShardExists, shard.ErrOffsetOutOfRange, shard.ErrUnknownEngine,
		shard.ErrTopicNotFound, shard.ErrTopicExists, shard.ErrInvalidConfig, shard.ErrClosed} {
		if errors.Is(err, s) {
			return "error: " + s.Error()
		}
	}
	return "error: " + err.Error()
}

func (d *ddRouter) run(t *testing.T, td *datadriven.TestData) string {
	out := d.cmd(t, td)
	if len(d.fired) > 0 {
		out += "fired: " + strings.Join(d.fired, " ") + "\n"
		d.fired = nil
	}
	return out
}

func (d *ddRouter) cmd(t *testing.T, td *datadriven.TestData) string {
	r := d.r
	sh := arg(td, "shard", "")
	result := func(err error) string {
		if err != nil {
			return errName(err) + "\n"
		}
		return "ok\n"
	}
	switch td.Cmd {
	case "create-topic":
		return result(r.CreateTopic(shard.TopicConfig{Name: arg(td, "name", ""), Partitions: int32(argInt(t, td, "partitions", 1)),
			Shard: shard.ShardConfig{Engine: shard.EngineType(arg(td, "engine", "memory")), RetentionBytes: argInt(t, td, "retention-bytes", 0)}}))
	case "create-shard":
		return result(r.CreateShard(shard.ShardConfig{Name: arg(td, "name", ""), Engine: shard.EngineType(arg(td, "engine", "memory"))}))
	case "delete-shard":
		return result(r.DeleteShard(arg(td, "name", "")))
	case "delete-topic":
		return result(r.DeleteTopic(arg(td, "name", "")))
	case "partition":
		var key []byte
		if k := arg(td, "key", "<nil>"); k != "<nil>" {
			key = []byte(k)
		}
		var b strings.Builder
		for i := int64(0); i < argInt(t, td, "times", 1); i++ {
			p, name, err := r.Partition(arg(td, "topic", ""), key, int32(argInt(t, td, "explicit", -1)))
			if err != nil {
				return errName(err) + "\n"
			}
			fmt.Fprintf(&b, "%d %s\n", p, name)
		}
		return b.String()
	case "append":
		recs := parseRecords(t, td)
		dur := shard.DurabilityNone
		if arg(td, "durability", "none") == "sync" {
			dur = shard.DurabilitySync
		}
		first, err := r.Append(context.Background(), sh, recs, shard.AppendOptions{Durability: dur})
		if err != nil {
			return errName(err) + "\n"
		}
		return fmt.Sprintf("first %d\n", first)
	case "read":
		res, err := r.Read(sh, argInt(t, td, "offset", 0), int(argInt(t, td, "max-records", 100)), int(argInt(t, td, "max-bytes", 1<<20)))
		return printResult(res, err, true)
	case "read-key":
		res, err := r.ReadByKey(sh, []byte(arg(td, "key", "")), argInt(t, td, "from", 0), int(argInt(t, td, "max", 100)))
		return printResult(res, err, false)
	case "read-tag":
		res, err := r.ReadByTag(sh, []byte(arg(td, "tag", "")), argInt(t, td, "from", 0), int(argInt(t, td, "max", 100)))
		return printResult(res, err, false)
	case "time":
		o, err := r.OffsetForTimestamp(sh, argInt(t, td, "ts", 0))
		if err != nil {
			return errName(err) + "\n"
		}
		return fmt.Sprintf("offset %d\n", o)
	case "delete-records":
		return result(r.DeleteRecords(sh, argInt(t, td, "before", 0)))
	case "wait":
		id := arg(td, "id", "")
		cancel, err := r.Wait(sh, argInt(t, td, "offset", 0), func() { d.fired = append(d.fired, id) })
		if err != nil {
			return errName(err) + "\n"
		}
		d.cancels[id] = cancel
		return "waiting\n"
	case "cancel":
		return fmt.Sprintf("cancelled %v\n", d.cancels[arg(td, "id", "")]())
	case "list":
		infos, err := r.ListShards()
		if err != nil {
			return errName(err) + "\n"
		}
		sort.Slice(infos, func(i, j int) bool { return infos[i].Config.Name < infos[j].Config.Name })
		var b strings.Builder
		for _, in := range infos {
			fmt.Fprintf(&b, "%s engine=%s offsets=[%d,%d)\n", in.Config.Name, in.Config.Engine, in.Earliest, in.Latest)
		}
		return b.String()
	case "stats":
		s := r.Stats(shard.EngineType(arg(td, "engine", "memory")))
		return fmt.Sprintf("shards=%d append=%d/%dB read=%d/%dB\n", s.Shards, s.AppendRecords, s.AppendBytes, s.ReadRecords, s.ReadBytes)
	}
	t.Fatalf("%s: unknown command %q", td.Pos, td.Cmd)
	return ""
}

func parseRecords(t *testing.T, td *datadriven.TestData) []shard.Record {
	var recs []shard.Record
	for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
		if line == "" {
			continue
		}
		rec := shard.Record{Timestamp: 1}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "key":
				if v != "<nil>" {
					rec.Key = []byte(v)
				}
			case "ts":
				if _, err := fmt.Sscan(v, &rec.Timestamp); err != nil {
					t.Fatalf("%s: ts=%q: %v", td.Pos, v, err)
				}
			case "tags":
				for _, tg := range strings.Split(v, ",") {
					rec.Tags = append(rec.Tags, []byte(tg))
				}
			case "hdr":
				n, hv, _ := strings.Cut(v, ":")
				rec.Headers = append(rec.Headers, shard.Header{Name: []byte(n), Value: []byte(hv)})
			case "value":
				rec.Value = []byte(v)
			default:
				t.Fatalf("%s: unknown record field %q", td.Pos, k)
			}
		}
		recs = append(recs, rec)
	}
	return recs
}

func printResult(res *shard.ReadResult, err error, next bool) string {
	if err != nil {
		return errName(err) + "\n"
	}
	defer res.Release()
	var b strings.Builder
	for i := range res.Records {
		rec := &res.Records[i]
		key := "<nil>"
		if rec.Key != nil {
			key = string(rec.Key)
		}
		fmt.Fprintf(&b, "%d ts=%d key=%s", rec.Offset, rec.Timestamp, key)
		if len(rec.Tags) > 0 {
			tags := make([]string, len(rec.Tags))
			for j, tg := range rec.Tags {
				tags[j] = string(tg)
			}
			fmt.Fprintf(&b, " tags=%s", strings.Join(tags, ","))
		}
		for _, h := range rec.Headers {
			fmt.Fprintf(&b, " hdr=%s:%s", h.Name, h.Value)
		}
		fmt.Fprintf(&b, " value=%s\n", rec.Value)
	}
	if next {
		fmt.Fprintf(&b, "next=%d ", res.Next)
	}
	fmt.Fprintf(&b, "bytes=%d earliest=%d latest=%d\n", res.Bytes, res.Earliest, res.Latest)
	return b.String()
}
