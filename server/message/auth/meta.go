package auth

import (
	"context"
	"crypto/rand"

	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// Meta is the Backend of a cluster: the Meta Service's mqtt raft group,
// tables 'a' (users), 'c' (ACL) and 'b' (blacklist), through the meta
// client (any node; writes go through raft, reads are linearizable).
//
// Every write also replaces the tables' version token (client.TableVersion,
// key versionKey) in the same transaction (Versioned): the mqtt group
// changes with every persistent session's CONNECT, and a following Store
// re-reads the three tables only when the token moved.
type Meta struct{ c *client.Client }

// NewMeta wraps a meta client; the caller keeps closing it.
func NewMeta(c *client.Client) *Meta { return &Meta{c: c} }

// versionKey names the three tables' token in client.TableVersion.
var versionKey = []byte("auth")

// write runs op with a new version token, in one transaction.
func (m *Meta) write(ctx context.Context, op *pb.TxnOp) error {
	token := make([]byte, 16)
	_, _ = rand.Read(token) // never fails (crypto/rand)
	req := &pb.TxnRequest{Space: pb.Space_SPACE_MQTT, Ops: []*pb.TxnOp{op,
		{Table: client.TableVersion, Key: versionKey, Value: token}}}
	_, err := m.c.Txn(ctx, req)
	return err
}

func (m *Meta) req(t Table, key, value []byte) *pb.KVRequest {
	return &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: string(rune(t)), Key: key, Value: value}
}

func (m *Meta) Put(ctx context.Context, t Table, key, value []byte) error {
	return m.write(ctx, &pb.TxnOp{Table: string(rune(t)), Key: key, Value: value})
}

func (m *Meta) Delete(ctx context.Context, t Table, key []byte) error {
	return m.write(ctx, &pb.TxnOp{Table: string(rune(t)), Key: key, Delete: true})
}

func (m *Meta) List(ctx context.Context, t Table) ([]KV, error) {
	var out []KV
	err := m.c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
		l, err := api.List(ctx, m.req(t, nil, nil))
		if err != nil {
			return err
		}
		out = out[:0]
		for _, kv := range l.GetItems() {
			out = append(out, KV{kv.GetKey(), kv.GetValue()})
		}
		return nil
	})
	return out, err
}

// Watch follows the mqtt group: every applied change of the group (not
// only of these tables) calls changed.
func (m *Meta) Watch(ctx context.Context, changed func()) error {
	return m.c.Watch(ctx, "mqtt", func(uint64, bool) { changed() })
}

// Version implements Versioned: the tables' token (nil before any write).
func (m *Meta) Version(ctx context.Context) ([]byte, error) {
	var token []byte
	err := m.c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
		v, err := api.Get(ctx, m.req(Table(client.TableVersion[0]), versionKey, nil))
		token = v.GetValue()
		return err
	})
	return token, err
}
