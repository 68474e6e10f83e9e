package grpctransport

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeEnvelope feeds arbitrary group numbers and message bytes (whole
// and in halves) to the receive-side decoder: it never panics, accepts only
// the three groups, and what it accepts re-encodes.
func FuzzDecodeEnvelope(f *testing.F) {
	m, _ := proto.Marshal(&pb.Message{Type: pb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Entries: []*pb.Entry{{Index: new(uint64(5)), Data: []byte("x")}}})
	f.Add(uint32(1), m)
	f.Add(uint32(4), m)
	f.Add(uint32(2), []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, group uint32, b []byte) {
		for _, part := range [][]byte{b[:len(b)/2], b[len(b)/2:], b} {
			g, msg, err := decodeEnvelope(group, part)
			if err != nil {
				continue
			}
			if g < 1 || g > 3 {
				t.Fatalf("accepted group %d", g)
			}
			if _, err := proto.Marshal(msg); err != nil {
				t.Fatalf("accepted message does not re-encode: %v", err)
			}
		}
	})
}
