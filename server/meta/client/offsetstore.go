package client

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"robustmq/server/pb"
	"robustmq/shard"
)

// OffsetStore is the shard.OffsetStore of the Meta Service's offset group:
// consumer-group offsets committed through any meta node, read
// linearizably (ReadIndex), surviving any broker.
//
// Names: the offset group keys names with 0x00 separators, so group and
// topic names are escaped on the way in (0x00 -> 0x01 0x01, 0x01 -> 0x01
// 0x02; order-preserving, so listings stay sorted) and unescaped on the
// way out. Close does not close the Client.
type OffsetStore struct {
	c      *Client
	closed atomic.Bool
}

// NewOffsetStore returns an OffsetStore over c.
func NewOffsetStore(c *Client) *OffsetStore { return &OffsetStore{c: c} }

var _ shard.OffsetStore = (*OffsetStore)(nil)

var (
	nameEscaper   = strings.NewReplacer("\x01", "\x01\x02", "\x00", "\x01\x01")
	nameUnescaper = strings.NewReplacer("\x01\x02", "\x01", "\x01\x01", "\x00")
)

func escape(name string) string {
	if strings.IndexByte(name, 0) < 0 && strings.IndexByte(name, 1) < 0 {
		return name
	}
	return nameEscaper.Replace(name)
}

func unescape(name string) string {
	if strings.IndexByte(name, 1) < 0 {
		return name
	}
	return nameUnescaper.Replace(name)
}

// check returns ErrClosed after Close, ErrInvalidArgument for an empty group.
func (s *OffsetStore) check(op, group string) error {
	if s.closed.Load() {
		return fmt.Errorf("meta/client: offsets: %s: %w", op, shard.ErrClosed)
	}
	if group == "" {
		return fmt.Errorf("meta/client: offsets: %s: empty group: %w", op, shard.ErrInvalidArgument)
	}
	return nil
}

// callErr prefers the context's error (a cancelled commit says so).
func callErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("meta/client: offsets: %s: %w", op, ctx.Err())
	}
	return fmt.Errorf("meta/client: offsets: %s: %w", op, err)
}

// Commit implements shard.OffsetStore: one raft command, all or none.
func (s *OffsetStore) Commit(ctx context.Context, group string, offsets []shard.GroupOffset) error {
	if err := s.check("commit", group); err != nil {
		return err
	}
	es := make([]*pb.OffsetEntry, len(offsets))
	for i, o := range offsets {
		if o.Topic == "" || o.Partition < 0 {
			return fmt.Errorf("meta/client: offsets: commit %s: topic %q partition %d: %w", group, o.Topic, o.Partition,
				shard.ErrInvalidArgument)
		}
		es[i] = &pb.OffsetEntry{Topic: escape(o.Topic), Partition: o.Partition, Offset: o.Offset, Metadata: o.Metadata}
	}
	if len(es) == 0 {
		return ctx.Err()
	}
	return callErr(ctx, "commit "+group, s.c.CommitOffsets(ctx, escape(group), es))
}

// Fetch implements shard.OffsetStore.
func (s *OffsetStore) Fetch(ctx context.Context, group, topic string) ([]shard.GroupOffset, error) {
	if err := s.check("fetch", group); err != nil {
		return nil, err
	}
	var resp *pb.FetchOffsetsResponse
	err := s.c.callGroup(ctx, groupOffset, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		resp, err = api.FetchOffsets(ctx, &pb.FetchOffsetsRequest{Group: escape(group), All: true, Topic: escape(topic)})
		return err
	})
	if err != nil {
		return nil, callErr(ctx, "fetch "+group, err)
	}
	var out []shard.GroupOffset
	for _, e := range resp.GetOffsets() {
		out = append(out, shard.GroupOffset{Topic: unescape(e.GetTopic()), Partition: e.GetPartition(),
			Offset: e.GetOffset(), Metadata: e.GetMetadata()})
	}
	return out, nil
}

func (s *OffsetStore) delete(ctx context.Context, group, topic string) error {
	if err := s.check("delete", group); err != nil {
		return err
	}
	err := s.c.callGroup(ctx, groupOffset, func(ctx context.Context, api pb.MetaServiceClient) error {
		_, err := api.DeleteOffsets(ctx, &pb.DeleteOffsetsRequest{Group: escape(group), Topic: escape(topic)})
		return err
	})
	return callErr(ctx, "delete "+group, err)
}

// DeleteGroup implements shard.OffsetStore.
func (s *OffsetStore) DeleteGroup(ctx context.Context, group string) error {
	return s.delete(ctx, group, "")
}

// DeleteTopic implements shard.OffsetStore.
func (s *OffsetStore) DeleteTopic(ctx context.Context, group, topic string) error {
	if topic == "" {
		return fmt.Errorf("meta/client: offsets: delete %s: empty topic: %w", group, shard.ErrInvalidArgument)
	}
	return s.delete(ctx, group, topic)
}

// ListGroups implements shard.OffsetStore.
func (s *OffsetStore) ListGroups(ctx context.Context) ([]string, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("meta/client: offsets: list groups: %w", shard.ErrClosed)
	}
	var resp *pb.GroupList
	err := s.c.callGroup(ctx, groupOffset, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		resp, err = api.ListOffsetGroups(ctx, &pb.MetaEmpty{})
		return err
	})
	if err != nil {
		return nil, callErr(ctx, "list groups", err)
	}
	var out []string
	for _, g := range resp.GetGroups() {
		out = append(out, unescape(g))
	}
	return out, nil
}

// Close implements shard.OffsetStore; the Client stays open.
func (s *OffsetStore) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("meta/client: offsets: close: %w", shard.ErrClosed)
	}
	return nil
}
