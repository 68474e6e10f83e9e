package kafka_test

import (
	"errors"
	"fmt"

	"robustmq/codec/kafka"
)

// onData is the shape of a netpoll OnData handler: decode every whole
// request in, answer into out, and report how many bytes were consumed; a
// partial frame stays unconsumed until more bytes arrive.
func onData(reg *kafka.Registry, in []byte, out []byte) (consumed int, reply []byte, err error) {
	var apiVersions kafka.ApiVersionsRequest // a server keeps one per connection or loop
	for {
		frame, n, err := kafka.Frame(in[consumed:], kafka.DefaultMaxFrameBytes)
		if err != nil || n == 0 {
			return consumed, out, err // err: close the connection
		}
		consumed += n
		h, body, err := kafka.ReadRequestHeader(frame)
		if err == nil && !reg.Supports(h.APIKey, h.APIVersion) {
			err = kafka.ErrUnsupportedVersion
		}
		switch {
		case errors.Is(err, kafka.ErrUnsupportedVersion) && h.APIKey == apiVersions.APIKey():
			out = kafka.AppendResponse(out, h.CorrelationID, 0, &kafka.ApiVersionsResponse{
				ErrorCode: int16(kafka.UnsupportedVersion), ApiKeys: reg.AppendAPIKeys(nil)})
		case err != nil:
			return consumed, out, err
		case h.APIKey == apiVersions.APIKey():
			if err := apiVersions.ReadFrom(body, h.APIVersion); err != nil {
				return consumed, out, err
			}
			out = kafka.AppendResponse(out, h.CorrelationID, h.APIVersion,
				&kafka.ApiVersionsResponse{ApiKeys: reg.AppendAPIKeys(nil)})
		}
	}
}

func Example() {
	var reg kafka.Registry
	if err := reg.Register(18, 0, 3); err != nil {
		panic(err)
	}
	req := kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 3, CorrelationID: 1, ClientID: []byte("cli")},
		&kafka.ApiVersionsRequest{ClientSoftwareName: []byte("x"), ClientSoftwareVersion: []byte("1")})
	newer := kafka.AppendRequest(nil, kafka.RequestHeader{APIVersion: 9, CorrelationID: 2}, &kafka.ApiVersionsRequest{})
	stream := append(req, newer...)

	// The first read holds one and a half requests; the rest comes later.
	cut := len(req) + 5
	n, out, err := onData(&reg, stream[:cut], nil)
	fmt.Println("read 1: consumed", n, "of", cut, "replied", len(out) > 0, err)
	pending := append(stream[n:cut], stream[cut:]...)
	n, out, err = onData(&reg, pending, out[:0])
	fmt.Println("read 2: consumed", n, "of", len(pending), err)

	var resp kafka.ApiVersionsResponse
	corr, body, _ := kafka.ReadResponseHeader(out[4:], 18, 0)
	if err := resp.ReadFrom(body, 0); err != nil {
		panic(err)
	}
	fmt.Println("correlation", corr, kafka.ErrorCode(resp.ErrorCode), resp.ApiKeys)
	// Output:
	// read 1: consumed 23 of 28 replied true <nil>
	// read 2: consumed 23 of 23 <nil>
	// correlation 2 UNSUPPORTED_VERSION [{18 0 3}]
}
