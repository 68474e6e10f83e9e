package message

// UserProperty is one name/value pair a publisher attached (MQTT 5.0 user
// property, NATS/AMQP header). Order is kept.
type UserProperty struct {
	Key, Value []byte
}

// Message is one published message. After Publish it is immutable and
// shared by every subscriber (see the package doc); the protocol that
// builds it copies the bytes out of its read buffer once (for example with
// Builder).
type Message struct {
	Topic   []byte // canonical topic name (the MQTT form)
	Payload []byte
	QoS     byte // the publisher's QoS, 0..2
	Retain  bool // the publisher set the retain flag

	// HasFormat says PayloadFormat was given: 0 unspecified bytes, 1 UTF-8.
	HasFormat     bool
	PayloadFormat byte
	// ExpiryMs is when the message expires (ms since the Unix epoch); 0 is
	// never. Subscribers drop expired messages and send the remaining
	// lifetime with the rest.
	ExpiryMs        int64
	ContentType     []byte
	ResponseTopic   []byte
	CorrelationData []byte
	User            []UserProperty

	// Publisher is the subscriber ID of the publishing session (for MQTT's
	// No Local); 0 when the publisher has no subscriber identity.
	Publisher uint64
	// Timestamp is when the hub received it (ms since the Unix epoch).
	Timestamp int64
	// Gate, when not nil, is the publisher's pending acknowledgement a
	// subscriber with a full queue holds instead of dropping m (see Gate).
	Gate *Gate
}

// Expired reports whether m has expired at nowMs.
func (m *Message) Expired(nowMs int64) bool { return m.ExpiryMs != 0 && nowMs >= m.ExpiryMs }

// Size is the number of bytes m holds (topic, payload and properties).
func (m *Message) Size() int {
	n := len(m.Topic) + len(m.Payload) + len(m.ContentType) + len(m.ResponseTopic) + len(m.CorrelationData)
	for _, u := range m.User {
		n += len(u.Key) + len(u.Value)
	}
	return n
}

// Builder makes an owned Message from views into a read buffer with one
// allocation for all its bytes: Copy each field, then Message.
type Builder struct {
	buf []byte
	n   int
}

// Reserve sizes the arena for n bytes; call once before the Copy calls.
func (b *Builder) Reserve(n int) { b.buf, b.n = make([]byte, n), 0 }

// Copy copies p into the arena and returns the copy; nil stays nil.
// REQUIRES: Reserve covered p.
func (b *Builder) Copy(p []byte) []byte {
	if p == nil {
		return nil
	}
	c := b.buf[b.n : b.n+len(p) : b.n+len(p)]
	copy(c, p)
	b.n += len(p)
	return c
}
