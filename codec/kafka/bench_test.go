package kafka

import (
	"bytes"
	"strconv"
	"testing"
)

// BenchmarkProduceDecode frames and decodes a ProduceRequest v9 carrying
// one batch into a reused struct, against a baseline copy of the frame.
// The batch is a view: decode cost does not grow with its size.
func BenchmarkProduceDecode(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		p := ProduceRequest{Acks: -1, TimeoutMs: 30000, Topics: []ProduceRequestTopic{{
			Name:       []byte("orders"),
			Partitions: []ProduceRequestTopicPartition{{Index: 3, Records: bytes.Repeat([]byte{1}, size)}},
		}}}
		in := AppendRequest(nil, RequestHeader{APIVersion: 9, CorrelationID: 1, ClientID: []byte("bench")}, &p)
		name := strconv.Itoa(size>>10) + "KiB"
		b.Run(name+"/baseline-copy", func(b *testing.B) {
			dst := make([]byte, len(in))
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				copy(dst, in)
			}
		})
		b.Run(name+"/decode", func(b *testing.B) {
			var req ProduceRequest
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				frame, _, err := Frame(in, DefaultMaxFrameBytes)
				if err != nil {
					b.Fatal(err)
				}
				h, body, err := ReadRequestHeader(frame)
				if err != nil {
					b.Fatal(err)
				}
				if err := req.ReadFrom(body, h.APIVersion); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFetchEncode appends a FetchResponse v12 (4 partitions, each one
// stored 16 KiB run of batches) into a reused buffer, against a baseline
// copy of the same record bytes: encoding should cost about a memcpy.
func BenchmarkFetchEncode(b *testing.B) {
	for _, parts := range []int{1, 4, 16} {
		stored := bytes.Repeat([]byte{7}, 16<<10)
		resp := FetchResponse{Topics: []FetchResponseTopic{{Name: []byte("orders")}}}
		for i := 0; i < parts; i++ {
			var p FetchResponseTopicPartition
			p.Default()
			p.Index, p.HighWatermark, p.Records = int32(i), 1000, stored
			resp.Topics[0].Partitions = append(resp.Topics[0].Partitions, p)
		}
		total := int64(parts * len(stored))
		name := "partitions=" + strconv.Itoa(parts)
		b.Run(name+"/baseline-copy", func(b *testing.B) {
			dst := make([]byte, 0, total)
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				dst = dst[:0]
				for i := 0; i < parts; i++ {
					dst = append(dst, stored...)
				}
			}
		})
		b.Run(name+"/encode", func(b *testing.B) {
			var dst []byte
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendResponse(dst[:0], 1, 12, &resp)
			}
		})
	}
}
