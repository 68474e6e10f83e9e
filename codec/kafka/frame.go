package kafka

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// DefaultMaxFrameBytes is Kafka's socket.request.max.bytes default, 100 MiB.
const DefaultMaxFrameBytes = 100 << 20

// apiVersionsKey is ApiVersions' key: its response header is always v0.
const apiVersionsKey = 18

var (
	// ErrFrameTooLarge: a frame's declared size is over the limit or negative.
	ErrFrameTooLarge = errors.New("kafka: frame too large")
	// ErrUnsupportedVersion: the request's API key or version is not one the
	// codec speaks; the header's key, version and correlation id are valid.
	ErrUnsupportedVersion = errors.New("kafka: unsupported api key or version")
)

// Frame splits the next size-prefixed frame off in. It returns the frame
// without its size and n, the bytes consumed; frame is nil and n 0 while in
// holds less than a whole frame (nothing is consumed). The declared size is
// checked against maxBytes before any waiting, so a peer cannot make the
// caller buffer an oversize frame. frame aliases in.
func Frame(in []byte, maxBytes int) (frame []byte, n int, err error) {
	if len(in) < 4 {
		return nil, 0, nil
	}
	size := int64(int32(binary.BigEndian.Uint32(in)))
	if size < 0 || size > int64(maxBytes) {
		return nil, 0, &detailed{ErrFrameTooLarge, "declared " + strconv.FormatInt(size, 10) +
			" bytes, limit " + strconv.Itoa(maxBytes)}
	}
	if int64(len(in)-4) < size {
		return nil, 0, nil
	}
	end := 4 + int(size)
	return in[4:end:end], end, nil
}

// RequestHeader is the request header v1/v2 (v0, without client id, is only
// used by ControlledShutdown v0, which this codec does not speak):
//
//	api_key        int16
//	api_version    int16
//	correlation_id int32
//	client_id      nullable string (int16 length, also in v2: not compact)
//	tagged fields  (v2 only: when the API version is flexible)
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      []byte // nil: null; aliases the frame
}

// ReadRequestHeader decodes the header at the start of a request frame and
// returns the body after it. For an API key or version the codec does not
// speak it returns the header (key, version, correlation id, client id) and
// ErrUnsupportedVersion, so the server can still answer: ApiVersions with
// UNSUPPORTED_VERSION at v0. A frame too short for a header is *DecodeError.
func ReadRequestHeader(frame []byte) (h RequestHeader, body []byte, err error) {
	r := Reader{src: frame}
	h.APIKey = r.Int16()
	h.APIVersion = r.Int16()
	h.CorrelationID = r.Int32()
	h.ClientID = r.Str(false, true)
	if r.err != nil {
		return h, nil, &DecodeError{Msg: "RequestHeader", Version: h.APIVersion, Offset: r.errOff, Err: r.err}
	}
	a, ok := LookupAPI(h.APIKey)
	if !ok || h.APIVersion < a.MinVersion || h.APIVersion > a.MaxVersion {
		return h, nil, ErrUnsupportedVersion
	}
	if a.Flexible(h.APIVersion) {
		r.skipTags()
		if r.err != nil {
			return h, nil, &DecodeError{Msg: "RequestHeader", Version: 2, Offset: r.errOff, Err: r.err}
		}
	}
	return h, r.Remaining(), nil
}

// responseHeaderFlexible reports whether the response to (key, version) has
// header v1 (correlation id and tagged fields) rather than v0. ApiVersions
// always answers with v0, so a client that sent a version the broker does
// not know can still read the answer.
func responseHeaderFlexible(key, version int16) bool {
	a, ok := LookupAPI(key)
	return ok && key != apiVersionsKey && a.Flexible(version)
}

// AppendRequest appends a whole request frame (size, header, body) for m at
// h.APIVersion; h.APIKey is taken from m.
func AppendRequest(dst []byte, h RequestHeader, m Message) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = AppendInt16(dst, m.APIKey())
	dst = AppendInt16(dst, h.APIVersion)
	dst = AppendInt32(dst, h.CorrelationID)
	dst = AppendStr(dst, h.ClientID, false, true)
	if a, ok := LookupAPI(m.APIKey()); ok && a.Flexible(h.APIVersion) {
		dst = append(dst, 0)
	}
	dst = m.AppendTo(dst, h.APIVersion)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// AppendResponse appends a whole response frame (size, header v0 or v1,
// body) answering correlationID with m encoded at version.
func AppendResponse(dst []byte, correlationID int32, version int16, m Message) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = AppendInt32(dst, correlationID)
	if responseHeaderFlexible(m.APIKey(), version) {
		dst = append(dst, 0)
	}
	dst = m.AppendTo(dst, version)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// ReadResponseHeader decodes the response header of a frame answering
// (key, version) and returns the correlation id and the body.
func ReadResponseHeader(frame []byte, key, version int16) (correlationID int32, body []byte, err error) {
	r := Reader{src: frame}
	correlationID = r.Int32()
	if responseHeaderFlexible(key, version) {
		r.skipTags()
	}
	if r.err != nil {
		return 0, nil, &DecodeError{Msg: "ResponseHeader", Version: version, Offset: r.errOff, Err: r.err}
	}
	return correlationID, r.Remaining(), nil
}
