package kafka

import (
	"errors"
	"slices"
	"strconv"
)

// Message is one request or response body. Every generated message type
// implements it.
type Message interface {
	// APIKey returns the API this message belongs to.
	APIKey() int16
	// AppendTo appends the body encoded at version to dst. version must be
	// within the API's range (the caller negotiated it).
	AppendTo(dst []byte, version int16) []byte
	// ReadFrom decodes the body at version. Byte slices alias src; slices
	// already in the message are reused, so decoding into the same value
	// again allocates nothing in steady state. Trailing bytes are ignored
	// (as Kafka brokers do). Errors are *DecodeError.
	ReadFrom(src []byte, version int16) error
}

// API describes one API key as this codec speaks it.
type API struct {
	Key          int16
	Name         string
	MinVersion   int16
	MaxVersion   int16
	FlexibleFrom int16 // first flexible version; -1: never flexible
}

// Flexible reports whether version uses the flexible encoding (compact
// strings and arrays, tagged fields, request header v2, response header v1).
func (a API) Flexible(version int16) bool { return a.FlexibleFrom >= 0 && version >= a.FlexibleFrom }

// apiByKey indexes apiTable by key for the per-request lookup; Name "" marks
// a key the codec does not speak.
var apiByKey = func() (t [128]API) {
	for _, a := range apiTable {
		t[a.Key] = a
	}
	return t
}()

// LookupAPI returns the codec's description of key.
func LookupAPI(key int16) (API, bool) {
	if key < 0 || int(key) >= len(apiByKey) || apiByKey[key].Name == "" {
		return API{}, false
	}
	return apiByKey[key], true
}

// APIs returns every API the codec speaks, by key.
func APIs() []API { return slices.Clone(apiTable[:]) }

// Registry is what a server implements: the APIs and version ranges it
// handles. ApiVersions answers are derived from it, so the server advertises
// exactly what it registered. A Registry is filled at start-up and read-only
// afterwards (safe for concurrent reads).
type Registry struct {
	apis []API // sorted by key
}

// ErrNotInCodec: Register was asked for an API or versions the codec does
// not speak.
var ErrNotInCodec = errors.New("kafka: api not in codec")

// Register adds key with versions min..max, which must lie within the
// codec's range for key. Registering a key again replaces its range.
func (r *Registry) Register(key, min, max int16) error {
	a, ok := LookupAPI(key)
	if !ok || min < a.MinVersion || max > a.MaxVersion || min > max {
		return &detailed{ErrNotInCodec, "key " + strconv.Itoa(int(key)) + " versions " +
			strconv.Itoa(int(min)) + "-" + strconv.Itoa(int(max))}
	}
	a.MinVersion, a.MaxVersion = min, max
	i, found := slices.BinarySearchFunc(r.apis, key, func(a API, k int16) int { return int(a.Key) - int(k) })
	if found {
		r.apis[i] = a
	} else {
		r.apis = slices.Insert(r.apis, i, a)
	}
	return nil
}

// Lookup returns the registered API for key.
func (r *Registry) Lookup(key int16) (API, bool) {
	i, found := slices.BinarySearchFunc(r.apis, key, func(a API, k int16) int { return int(a.Key) - int(k) })
	if !found {
		return API{}, false
	}
	return r.apis[i], true
}

// Supports reports whether (key, version) was registered.
func (r *Registry) Supports(key, version int16) bool {
	a, ok := r.Lookup(key)
	return ok && version >= a.MinVersion && version <= a.MaxVersion
}

// AppendAPIKeys appends the registered APIs, by key, in the form of the
// ApiVersions response.
func (r *Registry) AppendAPIKeys(dst []ApiVersionsResponseApiKey) []ApiVersionsResponseApiKey {
	for _, a := range r.apis {
		dst = append(dst, ApiVersionsResponseApiKey{APIKey: a.Key, MinVersion: a.MinVersion, MaxVersion: a.MaxVersion})
	}
	return dst
}
