package meta_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// entry is one key of a table: its value, or absent.
type entry struct {
	space  pb.Space
	table  string
	key    string
	value  string
	absent bool
}

func mq(table, key, value string) entry {
	return entry{space: pb.Space_SPACE_MQTT, table: table, key: key, value: value}
}
func kv(ns, key, value string) entry {
	return entry{space: pb.Space_SPACE_KV, table: ns, key: key, value: value}
}
func gone(e entry) entry { e.absent = true; e.value = ""; return e }

func put(table, key, value string) *pb.TxnOp {
	return &pb.TxnOp{Table: table, Key: []byte(key), Value: []byte(value)}
}
func del(table, key string) *pb.TxnOp { return &pb.TxnOp{Table: table, Key: []byte(key), Delete: true} }
func equal(table, key, value string) *pb.TxnCompare {
	return &pb.TxnCompare{Table: table, Key: []byte(key), Value: []byte(value)}
}
func absent(table, key string) *pb.TxnCompare {
	return &pb.TxnCompare{Table: table, Key: []byte(key), Absent: true}
}

// TestTxn runs transactions through client.Txn against one real meta node: each case writes its
// before entries with Put, runs its request, checks the answer (succeeded, or the refusal's gRPC
// code) and reads every after entry back with Get. Cases use their own keys, so they do not
// depend on each other's outcome.
func TestTxn(t *testing.T) {
	c := newCluster(t, 1, 10000)
	nd := c.nodes[0]
	c.start(nd)
	poll(t, 20*time.Second, "leaders", func() error { _, err := leaders(c.nodes); return err })
	cl := dial(t, nd)
	ctx := ctxFor(t, 30*time.Second)

	mqtt, kvs := pb.Space_SPACE_MQTT, pb.Space_SPACE_KV
	const ns = "txn.test"
	tooMany := make([]*pb.TxnOp, 1025)
	for i := range tooMany {
		tooMany[i] = put(client.TableDue, fmt.Sprint("many", i), "v")
	}
	most := make([]*pb.TxnOp, 1024)
	for i := range most {
		most[i] = put(client.TableFired, fmt.Sprint("most", i), "v")
	}
	cases := []struct {
		name   string
		before []entry
		req    *pb.TxnRequest
		want   bool       // succeeded (when code is OK)
		code   codes.Code // the refusal, OK: none
		after  []entry
	}{
		{name: "put and delete across d and f", before: []entry{mq("d", "e1", "due")},
			req:  &pb.TxnRequest{Space: mqtt, Ops: []*pb.TxnOp{del("d", "e1"), put("f", "n1e1", "fired")}},
			want: true, after: []entry{gone(mq("d", "e1", "")), mq("f", "n1e1", "fired")}},
		{name: "same key in d and f are two keys", before: []entry{mq("d", "k2", "due")},
			req:  &pb.TxnRequest{Space: mqtt, Ops: []*pb.TxnOp{put("f", "k2", "fired")}},
			want: true, after: []entry{mq("d", "k2", "due"), mq("f", "k2", "fired")}},
		{name: "compare equal holds", before: []entry{mq("d", "e3", "v1")},
			req:  &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{equal("d", "e3", "v1")}, Ops: []*pb.TxnOp{put("d", "e3", "v2")}},
			want: true, after: []entry{mq("d", "e3", "v2")}},
		{name: "compare equal fails: nothing changes", before: []entry{mq("d", "e4", "v1")},
			req: &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{equal("d", "e4", "other")},
				Ops: []*pb.TxnOp{put("d", "e4", "v2"), put("f", "e4", "fired")}},
			want: false, after: []entry{mq("d", "e4", "v1"), gone(mq("f", "e4", ""))}},
		{name: "compare equal on a missing key fails",
			req:  &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{equal("d", "e5", "")}, Ops: []*pb.TxnOp{put("d", "e5", "v")}},
			want: false, after: []entry{gone(mq("d", "e5", ""))}},
		{name: "compare equal is exact, not a prefix", before: []entry{mq("d", "e6", "v1x")},
			req:  &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{equal("d", "e6", "v1")}, Ops: []*pb.TxnOp{del("d", "e6")}},
			want: false, after: []entry{mq("d", "e6", "v1x")}},
		{name: "compare absent holds",
			req:  &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{absent("f", "a7")}, Ops: []*pb.TxnOp{put("f", "a7", "v")}},
			want: true, after: []entry{mq("f", "a7", "v")}},
		{name: "compare absent fails", before: []entry{mq("f", "a8", "v")},
			req:  &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{absent("f", "a8")}, Ops: []*pb.TxnOp{put("f", "a8", "w")}},
			want: false, after: []entry{mq("f", "a8", "v")}},
		{name: "mixed compares and ops hold", before: []entry{mq("d", "m9", "due")},
			req: &pb.TxnRequest{Space: mqtt,
				Compares: []*pb.TxnCompare{equal("d", "m9", "due"), absent("f", "m9")},
				Ops:      []*pb.TxnOp{del("d", "m9"), put("f", "m9", "fired"), put("d", "m9b", "next"), put("s", "m9", "session")}},
			want: true, after: []entry{gone(mq("d", "m9", "")), mq("f", "m9", "fired"), mq("d", "m9b", "next"), mq("s", "m9", "session")}},
		{name: "mixed: the last compare fails", before: []entry{mq("d", "m10", "due"), mq("f", "m10", "old")},
			req: &pb.TxnRequest{Space: mqtt,
				Compares: []*pb.TxnCompare{equal("d", "m10", "due"), absent("f", "m10")},
				Ops:      []*pb.TxnOp{del("d", "m10"), put("f", "m10", "fired")}},
			want: false, after: []entry{mq("d", "m10", "due"), mq("f", "m10", "old")}},
		{name: "kv namespace", before: []entry{kv(ns, "k11", "a")},
			req: &pb.TxnRequest{Space: kvs,
				Compares: []*pb.TxnCompare{equal(ns, "k11", "a"), absent(ns, "k11b")},
				Ops:      []*pb.TxnOp{put(ns, "k11", "b"), put(ns, "k11b", "c"), put(ns+".other", "k11", "d")}},
			want: true, after: []entry{kv(ns, "k11", "b"), kv(ns, "k11b", "c"), kv(ns+".other", "k11", "d"), gone(mq("d", "k11", ""))}},
		{name: "kv namespace compare fails", before: []entry{kv(ns, "k12", "a")},
			req:  &pb.TxnRequest{Space: kvs, Compares: []*pb.TxnCompare{absent(ns, "k12")}, Ops: []*pb.TxnOp{del(ns, "k12")}},
			want: false, after: []entry{kv(ns, "k12", "a")}},
		{name: "empty request succeeds", req: &pb.TxnRequest{Space: mqtt}, want: true},
		{name: "1024 ops are accepted", req: &pb.TxnRequest{Space: mqtt, Ops: most},
			want: true, after: []entry{mq("f", "most0", "v"), mq("f", "most1023", "v")}},
		{name: "invalid mqtt table in an op",
			req:  &pb.TxnRequest{Space: mqtt, Ops: []*pb.TxnOp{put("d", "z14", "v"), put("z", "z14", "v")}},
			code: codes.InvalidArgument, after: []entry{gone(mq("d", "z14", ""))}},
		{name: "invalid mqtt table in a compare",
			req:  &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{absent("df", "z15")}, Ops: []*pb.TxnOp{put("d", "z15", "v")}},
			code: codes.InvalidArgument, after: []entry{gone(mq("d", "z15", ""))}},
		{name: "empty kv namespace",
			req:  &pb.TxnRequest{Space: kvs, Ops: []*pb.TxnOp{put(ns, "z16", "v"), put("", "z16", "v")}},
			code: codes.InvalidArgument, after: []entry{gone(kv(ns, "z16", ""))}},
		{name: "unknown space", req: &pb.TxnRequest{Space: pb.Space(7)}, code: codes.InvalidArgument},
		{name: "too many ops", req: &pb.TxnRequest{Space: mqtt, Ops: tooMany},
			code: codes.InvalidArgument, after: []entry{gone(mq("d", "many0", "")), gone(mq("d", "many1024", ""))}},
		{name: "too many compares + ops",
			req:  &pb.TxnRequest{Space: mqtt, Compares: []*pb.TxnCompare{absent("d", "many0")}, Ops: most},
			code: codes.InvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, e := range tc.before {
				write(ctx, t, cl, e)
			}
			ok, err := cl.Txn(ctx, tc.req)
			if status.Code(err) != tc.code || tc.code == codes.OK && ok != tc.want {
				t.Fatalf("Txn: succeeded %v, err %v; want succeeded %v, code %v", ok, err, tc.want, tc.code)
			}
			for _, e := range tc.after {
				if got := read(ctx, t, cl, e); got != e {
					t.Errorf("after: %+v; want %+v", got, e)
				}
			}
		})
	}
}

func kvRequest(e entry) *pb.KVRequest {
	return &pb.KVRequest{Space: e.space, Table: e.table, Key: []byte(e.key), Value: []byte(e.value)}
}

// write puts e through the Put call.
func write(ctx context.Context, t *testing.T, cl *client.Client, e entry) {
	t.Helper()
	err := cl.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.Put(ctx, kvRequest(e))
		return err
	})
	if err != nil {
		t.Fatalf("put %+v: %v", e, err)
	}
}

// read returns e's key as stored (value, or absent) through the Get call.
func read(ctx context.Context, t *testing.T, cl *client.Client, e entry) entry {
	t.Helper()
	var v *pb.KVValue
	err := cl.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		v, err = api.Get(ctx, kvRequest(e))
		return err
	})
	if err != nil {
		t.Fatalf("get %+v: %v", e, err)
	}
	e.value, e.absent = string(v.GetValue()), !v.GetFound()
	return e
}
