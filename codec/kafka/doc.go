// Package kafka is the Kafka wire protocol codec: framing, request and
// response headers, and every request and response body of the APIs in
// messages.def, at every version listed there. Record batches (the Records
// bytes of Produce and Fetch) are opaque here; package record reads and
// writes them.
//
// # One description, generated code
//
// messages.def describes each API once: key, version range, first flexible
// version, and the fields of its request and response with the versions each
// field is on the wire in, nullability, tags and defaults. internal/gen turns
// it into generated.go (go generate ./codec/kafka): one Go struct per message
// and nested struct, with AppendTo and ReadFrom covering all versions through
// version conditions, Default, the API table (APIs, LookupAPI) and
// NewRequest/NewResponse, and ErrorResponse (a response whose top-level
// ErrorCode is set, for the APIs and versions that have one). There is no
// hand-written code per version. Every
// message is cross-checked at every version against franz-go's kmsg in the
// tests, both ways.
//
// # Framing
//
// Every request and response is
//
//	size  int32   bytes after this field (Frame refuses size < 0 or > max
//	              from the first 4 bytes, before buffering the frame)
//	header        request header v1/v2 or response header v0/v1
//	body          the message at the negotiated version
//
// Request header (ReadRequestHeader):
//
//	api_key         int16
//	api_version     int16
//	correlation_id  int32
//	client_id       nullable string, int16 length: NOT compact even in v2
//	tagged fields   v2 only (uvarint count, then tag/size/bytes each)
//
// v2 is used when (api_key, api_version) is flexible, else v1. (v0, without
// client_id, belongs to ControlledShutdown v0, which is not spoken.)
// Response header: correlation_id int32, plus a tagged-field section (v1)
// when the response is flexible, except ApiVersions, which always answers
// with v0 so a client that sent a version the broker does not know can read
// the UNSUPPORTED_VERSION answer.
//
// # Flexible versions
//
// From an API's flexible version on, strings, bytes and arrays are compact
// (uvarint length+1, 0 = null) and every struct ends with a tagged-field
// section: uvarint count, then per field uvarint tag, uvarint size and the
// value. Known tags are decoded (absent ones take their default); unknown
// tags are skipped. A tagged field is written only when it differs from its
// default. Tags are not gated by version within the flexible range (Kafka
// adds tags to later versions only; a peer skips a tag it does not know), so
// a server leaves a tag at its default for versions before the tag's. Before
// the flexible version, strings are int16 length (-1 = null), bytes and
// arrays int32 length (-1 = null).
//
// SaslHandshake v0 is followed by raw SASL tokens (int32 size, no Kafka
// header), which ReadRequestHeader cannot read: a server registers v1 only,
// after which tokens travel in SaslAuthenticate.
//
// # Decoded values are views
//
// Strings and bytes are []byte views into the input (no allocation, no
// unsafe string): they live as long as the input does, which under netpoll
// is the OnData call. Whatever must outlive it (a topic name kept in a map,
// a batch kept for a slow fsync) is copied once by the caller. A nil slice
// is null; an empty non-nil slice is the empty string. ReadFrom reuses the
// slices already in the struct, so decoding request after request into one
// struct allocates nothing (Produce: 0 allocs, BenchmarkProduceDecode).
// Arrays are sized from the wire only after checking that that many
// elements can fit in the remaining input, so a lying length cannot make
// the decoder allocate. Trailing bytes after a body are ignored, as Kafka
// brokers do.
//
// # Errors
//
// Reader failures are sticky: the first one is kept and every later read
// returns zero values, so generated code checks once per message. Decode
// errors are *DecodeError (message, version, byte offset) wrapping
// ErrTruncated or ErrMalformed; frame errors wrap ErrFrameTooLarge. A key or
// version the codec does not speak gives ErrUnsupportedVersion together with
// a valid header, so the server answers ApiVersions with UNSUPPORTED_VERSION
// (v0) and closes other connections with a logged reason (their response
// layout is unknown at that version). Protocol error codes are one table,
// ErrorCode (errors.go).
//
// # Advertising
//
// The server registers each API it implements with its version range in a
// Registry (within the codec's range); ApiVersions is answered from the
// Registry (AppendAPIKeys), so the broker advertises exactly what it
// registered, and Supports tells which requests to refuse. A refused
// version the codec speaks is answered with ErrorResponse where the
// response has a top-level error code (server/kafka doc).
//
// # Goroutines
//
// The package has no state besides read-only tables: messages, Readers and
// Registries (after start-up) belong to their caller's goroutine.
package kafka
