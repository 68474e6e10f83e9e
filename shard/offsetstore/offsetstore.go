package offsetstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"robustmq/shard"
	"robustmq/shard/internal/pebblelog"
)

const (
	kindGroup     = 'g'
	formatVersion = 0x01
)

// Options configure a Store.
type Options struct {
	Logger *slog.Logger // default slog.Default()
}

// Store is the local OffsetStore. Open it with Open.
type Store struct {
	mu     sync.RWMutex // read-held by operations, write-held by Close
	closed bool         // guarded by mu
	db     *pebble.DB
}

var _ shard.OffsetStore = (*Store)(nil)

// Open opens (or creates) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{L: opts.Logger}})
	if err != nil {
		return nil, fmt.Errorf("offsetstore: open %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func groupPrefix(group string) []byte { return appendString([]byte{kindGroup}, group) }

func successor(p []byte) []byte {
	s := bytes.Clone(p)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil
}

// readString reads a length-prefixed string from b.
func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

var errCorrupt = errors.Join(shard.ErrCorrupt, errors.New("offsetstore: bad key or value"))

// decode parses one key/value into a GroupOffset and its group.
func decode(k, v []byte) (string, shard.GroupOffset, error) {
	if len(k) == 0 || k[0] != kindGroup {
		return "", shard.GroupOffset{}, errCorrupt
	}
	group, rest, ok := readString(k[1:])
	if !ok {
		return "", shard.GroupOffset{}, errCorrupt
	}
	topic, rest, ok := readString(rest)
	if !ok || len(rest) != 4 || len(v) < 9 || v[0] != formatVersion {
		return "", shard.GroupOffset{}, errCorrupt
	}
	return group, shard.GroupOffset{
		Topic:     topic,
		Partition: int32(binary.BigEndian.Uint32(rest)),
		Offset:    int64(binary.LittleEndian.Uint64(v[1:])),
		Metadata:  string(v[9:]),
	}, nil
}

func (s *Store) enter(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return shard.ErrClosed
	}
	return nil
}

func checkGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: offsetstore: empty group id", shard.ErrInvalidArgument)
	}
	return nil
}

// Commit implements shard.OffsetStore.
func (s *Store) Commit(ctx context.Context, group string, offsets []shard.GroupOffset) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	for _, o := range offsets {
		if o.Topic == "" || o.Partition < 0 {
			return fmt.Errorf("%w: offsetstore: group %q: bad partition %q/%d", shard.ErrInvalidArgument, group, o.Topic, o.Partition)
		}
	}
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := s.db.NewBatch()
	defer b.Close()
	prefix := groupPrefix(group)
	var k, v []byte
	for _, o := range offsets {
		k = binary.BigEndian.AppendUint32(appendString(append(k[:0], prefix...), o.Topic), uint32(o.Partition))
		v = append(binary.LittleEndian.AppendUint64(append(v[:0], formatVersion), uint64(o.Offset)), o.Metadata...)
		_ = b.Set(k, v, nil)
	}
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("offsetstore: commit group %q: %w", group, err)
	}
	return nil
}

// Fetch implements shard.OffsetStore.
func (s *Store) Fetch(ctx context.Context, group, topic string) ([]shard.GroupOffset, error) {
	if err := checkGroup(group); err != nil {
		return nil, err
	}
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	prefix := groupPrefix(group)
	if topic != "" {
		prefix = appendString(prefix, topic)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: successor(prefix)})
	if err != nil {
		return nil, fmt.Errorf("offsetstore: fetch group %q: %w", group, err)
	}
	defer it.Close()
	var out []shard.GroupOffset
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("offsetstore: fetch group %q: %w", group, err)
		}
		_, o, err := decode(it.Key(), v)
		if err != nil {
			return nil, fmt.Errorf("offsetstore: fetch group %q key %x: %w", group, it.Key(), err)
		}
		out = append(out, o)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("offsetstore: fetch group %q: %w", group, err)
	}
	// Keys sort by topic length first; callers want topic order.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

func (s *Store) deleteRange(ctx context.Context, prefix []byte, what string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.db.DeleteRange(prefix, successor(prefix), pebble.Sync); err != nil {
		return fmt.Errorf("offsetstore: delete %s: %w", what, err)
	}
	return nil
}

// DeleteGroup implements shard.OffsetStore.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	return s.deleteRange(ctx, groupPrefix(group), "group "+group)
}

// DeleteTopic implements shard.OffsetStore.
func (s *Store) DeleteTopic(ctx context.Context, group, topic string) error {
	if err := checkGroup(group); err != nil {
		return err
	}
	return s.deleteRange(ctx, appendString(groupPrefix(group), topic), "group "+group+" topic "+topic)
}

// ListGroups implements shard.OffsetStore. It visits one key per group,
// seeking past the rest.
func (s *Store) ListGroups(ctx context.Context) ([]string, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindGroup}, UpperBound: []byte{kindGroup + 1}})
	if err != nil {
		return nil, fmt.Errorf("offsetstore: list groups: %w", err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; ok = it.SeekGE(successor(groupPrefix(out[len(out)-1]))) {
		group, _, ok := readString(it.Key()[1:])
		if !ok {
			return nil, fmt.Errorf("offsetstore: list groups: key %x: %w", it.Key(), errCorrupt)
		}
		out = append(out, group)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("offsetstore: list groups: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// Close implements shard.OffsetStore.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return shard.ErrClosed
	}
	s.closed = true
	return s.db.Close()
}
