package message

import (
	"reflect"
	"testing"

	"robustmq/shard"
)

// TestRecordRoundTrip: FromRecord rebuilds what AppendHeaders stored.
func TestRecordRoundTrip(t *testing.T) {
	for _, m := range []*Message{
		{Topic: []byte("a"), Payload: []byte{}, Timestamp: 1},
		{Topic: []byte("a/b"), Payload: []byte("hi"), QoS: 2, Timestamp: 7, HasFormat: true, PayloadFormat: 1,
			ContentType: []byte("json"), ResponseTopic: []byte("re"), CorrelationData: []byte{9},
			User: []UserProperty{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("k"), Value: []byte("w")}}},
	} {
		r := shard.Record{Timestamp: m.Timestamp, Headers: AppendHeaders(nil, m), Value: m.Payload}
		if got := FromRecord(m.Topic, &r); !reflect.DeepEqual(got, m) {
			t.Fatalf("FromRecord = %+v; want %+v", got, m)
		}
	}
}
