package message

import (
	"bytes"

	"robustmq/shard"
)

// Header names of a stored message (see the package doc, "Persistence").
var (
	hdrQoS      = []byte("mqtt.qos")
	hdrContent  = []byte("mqtt.content_type")
	hdrResponse = []byte("mqtt.response_topic")
	hdrCorr     = []byte("mqtt.correlation_data")
	hdrFormat   = []byte("mqtt.payload_format")
	qosValues   = [3][]byte{[]byte("0"), []byte("1"), []byte("2")}
	fmtValues   = [2][]byte{[]byte("0"), []byte("1")}
)

// AppendHeaders appends the headers that store m's properties to hs and
// returns it: mqtt.qos, then each property m has, then the user properties
// in order. The headers are views of m.
func AppendHeaders(hs []shard.Header, m *Message) []shard.Header {
	hs = append(hs, shard.Header{Name: hdrQoS, Value: qosValues[m.QoS%3]})
	if m.ContentType != nil {
		hs = append(hs, shard.Header{Name: hdrContent, Value: m.ContentType})
	}
	if m.ResponseTopic != nil {
		hs = append(hs, shard.Header{Name: hdrResponse, Value: m.ResponseTopic})
	}
	if m.CorrelationData != nil {
		hs = append(hs, shard.Header{Name: hdrCorr, Value: m.CorrelationData})
	}
	if m.HasFormat {
		hs = append(hs, shard.Header{Name: hdrFormat, Value: fmtValues[m.PayloadFormat&1]})
	}
	for _, u := range m.User {
		hs = append(hs, shard.Header{Name: u.Key, Value: u.Value})
	}
	return hs
}

// FromRecord is the owned message a record stored by AppendHeaders holds,
// published to topic: the reverse of the hub's store. Headers other than
// the mqtt.* ones are user properties. r's bytes are copied (one
// allocation for all of them), so r may be released afterwards.
func FromRecord(topic []byte, r *shard.Record) *Message {
	n := len(topic) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Name) + len(h.Value)
	}
	var b Builder
	b.Reserve(n)
	m := &Message{Topic: b.Copy(topic), Payload: b.Copy(r.Value), Timestamp: r.Timestamp}
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	for _, h := range r.Headers {
		switch {
		case bytes.Equal(h.Name, hdrQoS):
			if len(h.Value) == 1 && h.Value[0] >= '0' && h.Value[0] <= '2' {
				m.QoS = h.Value[0] - '0'
			}
		case bytes.Equal(h.Name, hdrContent):
			m.ContentType = b.Copy(h.Value)
		case bytes.Equal(h.Name, hdrResponse):
			m.ResponseTopic = b.Copy(h.Value)
		case bytes.Equal(h.Name, hdrCorr):
			m.CorrelationData = b.Copy(h.Value)
		case bytes.Equal(h.Name, hdrFormat):
			m.HasFormat, m.PayloadFormat = true, 0
			if bytes.Equal(h.Value, fmtValues[1]) {
				m.PayloadFormat = 1
			}
		default:
			m.User = append(m.User, UserProperty{Key: b.Copy(h.Name), Value: b.Copy(h.Value)})
		}
	}
	return m
}
