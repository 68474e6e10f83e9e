package message

import (
	"bytes"

	"robustmq/server/message/topic"
	"robustmq/shard"
)

// Batch gathers the store appends of the messages one goroutine publishes
// in a burst (an MQTT connection: the PUBLISHes decoded from one read), so
// that consecutive messages to one shard at one durability reach the store
// as one AppendAsync: one segment batch, one CRC over it, one completion
// for all of them. Only the append waits: Publish still delivers at once.
// A message's done runs when its append completes, as with Hub.Publish.
//
// A Batch belongs to one goroutine. It sends what it holds when the next
// message goes to another shard or durability, when it holds maxBatch
// messages or maxBatchBytes of payload, and on Flush, which its owner
// must call at the end of the burst (before it lets go of the Batch):
// until then the messages' dones cannot run.
type Batch struct {
	h     *Hub
	shard string           // shard of items
	dur   shard.Durability // durability of items
	bytes int              // payload bytes in items
	call  *appendCall      // the pending append, nil when empty
	nowMs int64            // the hub's clock, read once since Flush; 0 = not yet
	last  []byte           // topic of the previous message since Flush (a hub-owned view)
	te    *topicEntry      // last's entry
	noted []any            // what BatchSubscribers noted since ClearNoted
}

// Bounds of one batched append.
const (
	maxBatch      = 256
	maxBatchBytes = 256 << 10
)

// NewBatch returns an empty batch on h.
func (h *Hub) NewBatch() *Batch { return &Batch{h: h} }

// Publish is Hub.Publish with the store append of m held in b until b is
// sent (see Batch).
func (b *Batch) Publish(m *Message, done func(error)) int { return b.h.publish(m, done, b) }

// Flush sends the held appends. The dones run when the store completes
// them (at once on the memory engine).
func (b *Batch) Flush() {
	b.last, b.te, b.nowMs = nil, nil, 0
	c := b.call
	if c == nil {
		return
	}
	b.call, b.bytes = nil, 0
	c.send(b.shard, b.dur)
}

// Now is the hub's clock (Hub.Now), read once until the next Flush: a
// protocol stamps every message of a burst with one clock read.
func (b *Batch) Now() int64 {
	if b.nowMs == 0 {
		b.nowMs = b.h.Now()
	}
	return b.nowMs
}

// topic is Hub.topic, remembering the previous topic until the next Flush
// (a burst usually publishes to one; ForgetTopic holds for the bursts
// after it).
func (b *Batch) topic(t []byte) (*topicEntry, error) {
	if b.te != nil && bytes.Equal(t, b.last) {
		return b.te, nil
	}
	te, err := b.h.topic(t)
	if err == nil {
		b.last, b.te = t, te
	}
	return te, err
}

// add holds the append of m to shard name.
func (b *Batch) add(m *Message, name string, done func(error)) {
	d := b.h.opts.Durability(m.QoS)
	if b.call != nil && (d != b.dur || name != b.shard) {
		b.Flush()
	}
	if b.call == nil {
		b.call = b.h.calls.Get().(*appendCall)
		b.shard, b.dur = name, d
	}
	b.call.items = append(b.call.items, pendingAppend{m, done})
	b.bytes += len(m.Payload)
	if len(b.call.items) >= maxBatch || b.bytes >= maxBatchBytes {
		b.Flush()
	}
}

// BatchSubscriber is a Subscriber that is told the Batch a delivery came
// through (Batch.Publish): it may Note itself there, for the batch's
// owner to act on at the end of the burst (an MQTT subscriber: be flushed
// by the publisher's loop right after the read that fed it). Other
// deliveries still come through Deliver.
type BatchSubscriber interface {
	Subscriber
	DeliverBatch(m *Message, e *topic.Entry, b *Batch)
}

// Note remembers x for the batch's owner (Noted).
func (b *Batch) Note(x any) { b.noted = append(b.noted, x) }

// Noted is what was noted since ClearNoted; valid until the next Note.
func (b *Batch) Noted() []any { return b.noted }

// ClearNoted forgets the noted values.
func (b *Batch) ClearNoted() {
	clear(b.noted)
	b.noted = b.noted[:0]
	if cap(b.noted) > 4096 {
		b.noted = nil
	}
}
