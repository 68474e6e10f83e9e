package auth

import (
	"context"

	"robustmq/server/meta/client"
	"robustmq/server/pb"
)

// Meta is the Backend of a cluster: the Meta Service's mqtt raft group,
// tables 'a' (users), 'c' (ACL) and 'b' (blacklist), through the meta
// client (any node; writes go through raft, reads are linearizable).
type Meta struct{ c *client.Client }

// NewMeta wraps a meta client; the caller keeps closing it.
func NewMeta(c *client.Client) *Meta { return &Meta{c: c} }

func (m *Meta) req(t Table, key, value []byte) *pb.KVRequest {
	return &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: string(rune(t)), Key: key, Value: value}
}

func (m *Meta) Put(ctx context.Context, t Table, key, value []byte) error {
	return m.c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.Put(ctx, m.req(t, key, value))
		return err
	})
}

func (m *Meta) Delete(ctx context.Context, t Table, key []byte) error {
	return m.c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.Delete(ctx, m.req(t, key, nil))
		return err
	})
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
