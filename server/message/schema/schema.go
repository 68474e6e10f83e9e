package schema

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
	"github.com/hamba/avro/v2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"robustmq/server/message"
	"robustmq/server/message/topic"
)

// Types of schema.
const (
	TypeJSON     = "json"
	TypeAvro     = "avro"
	TypeProtobuf = "protobuf"
)

// Schema is one registered schema (RobustMQ's JSON field names).
type Schema struct {
	Name       string `json:"name"`
	Type       string `json:"schema_type"`
	Desc       string `json:"desc"`
	Definition string `json:"schema"`
}

// Binding binds a schema to a resource: a topic name or an MQTT topic
// filter.
type Binding struct {
	Schema   string `json:"schema_name"`
	Resource string `json:"resource_name"`
}

// Strategy says how several schemas bound to one topic combine.
type Strategy int

const (
	// All: the payload must match every schema bound to the topic.
	All Strategy = iota
	// Any: the payload must match at least one of them.
	Any
)

// OnFailure is what happens to a message that fails validation.
type OnFailure int

const (
	// Discard refuses the message (message.ErrRefused).
	Discard OnFailure = iota
	// DisconnectAndDiscard refuses it and ends the publisher's connection
	// (message.ErrRefusedDisconnect).
	DisconnectAndDiscard
	// Ignore lets it through; the failure is counted and logged.
	Ignore
)

// Options configure a Registry.
type Options struct {
	Strategy  Strategy
	OnFailure OnFailure
	// EchoLog logs every failed validation at LogLevel.
	EchoLog  bool
	LogLevel slog.Level
	Logger   *slog.Logger
}

// Errors.
var (
	ErrExists   = errors.New("schema: already exists")
	ErrNotFound = errors.New("schema: not found")
	ErrInvalid  = errors.New("schema: invalid definition")
	ErrInUse    = errors.New("schema: still bound")
)

// Registry holds the schemas and their bindings and validates payloads
// against them. Safe for concurrent use; Check takes no lock.
type Registry struct {
	opts Options

	mu       sync.Mutex         // serialises writers
	schemas  map[string]*entry  // guarded by mu
	bindings map[Binding]uint64 // binding -> index subscriber id; guarded by mu
	nextID   uint64             // guarded by mu

	compiled atomic.Pointer[map[string]validator] // by schema name; replaced whole by writers
	index    *topic.Index                         // resource -> schema name (Entry.Target)
	bound    atomic.Int64                         // bindings in index: 0 skips Match
	match    sync.Pool                            // *[]topic.Entry

	checked, failed *metrics.Counter
}

type entry struct {
	s Schema
	v validator
}

// validator checks one payload.
type validator func(payload []byte) error

// New returns an empty registry.
func New(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Registry{opts: opts, schemas: map[string]*entry{}, bindings: map[Binding]uint64{},
		index:   topic.New(topic.Config{}),
		checked: metrics.GetOrCreateCounter("robustmq_schema_checked_total"),
		failed:  metrics.GetOrCreateCounter("robustmq_schema_failed_total"),
	}
	empty := map[string]validator{}
	r.compiled.Store(&empty)
	r.match.New = func() any { s := make([]topic.Entry, 0, 8); return &s }
	return r
}

// compile builds the validator of s.
func compile(s Schema) (validator, error) {
	switch s.Type {
	case TypeJSON:
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s.Definition))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: json: %w", ErrInvalid, s.Name, err)
		}
		c := jsonschema.NewCompiler()
		url := "mem://" + s.Name + ".json"
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("%w: %s: json: %w", ErrInvalid, s.Name, err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: json: %w", ErrInvalid, s.Name, err)
		}
		return func(p []byte) error {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(p))
			if err != nil {
				return fmt.Errorf("not JSON: %w", err)
			}
			return sch.Validate(v)
		}, nil
	case TypeAvro:
		sch, err := avro.Parse(s.Definition)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: avro: %w", ErrInvalid, s.Name, err)
		}
		// Avro binary has no framing: a decode that succeeds may have left
		// bytes over, so the value re-encoded must take the whole payload.
		return func(p []byte) error {
			var v any
			if err := avro.Unmarshal(sch, p, &v); err != nil {
				return err
			}
			b, err := avro.Marshal(sch, v)
			if err != nil {
				return err
			}
			if len(b) != len(p) {
				return fmt.Errorf("avro: %d bytes left after the value", len(p)-len(b))
			}
			return nil
		}, nil
	case TypeProtobuf:
		return nil, fmt.Errorf("%w: %s: protobuf schemas are not supported yet (json, avro)", ErrInvalid, s.Name)
	}
	return nil, fmt.Errorf("%w: %s: schema_type %q is not json, avro or protobuf", ErrInvalid, s.Name, s.Type)
}

// Create registers s; its definition must compile.
func (r *Registry) Create(s Schema) error {
	if s.Name == "" || len(s.Name) > 128 {
		return fmt.Errorf("%w: schema_name must be 1..128 bytes", ErrInvalid)
	}
	v, err := compile(s)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.schemas[s.Name]; ok {
		return fmt.Errorf("%w: %s", ErrExists, s.Name)
	}
	r.schemas[s.Name] = &entry{s: s, v: v}
	r.publishLocked()
	return nil
}

// Delete removes the schema name; it must not be bound.
func (r *Registry) Delete(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.schemas[name]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	for b := range r.bindings {
		if b.Schema == name {
			return fmt.Errorf("%w: %s is bound to %s", ErrInUse, name, b.Resource)
		}
	}
	delete(r.schemas, name)
	r.publishLocked()
	return nil
}

// publishLocked swaps in the validators of the current schemas.
// REQUIRES: mu.
func (r *Registry) publishLocked() {
	m := make(map[string]validator, len(r.schemas))
	for n, e := range r.schemas {
		m[n] = e.v
	}
	r.compiled.Store(&m)
}

// Bind binds schema b.Schema to b.Resource (a topic or an MQTT filter).
func (r *Registry) Bind(b Binding) error {
	f, err := topic.ParseFilter([]byte(b.Resource), topic.MQTT, nil)
	if err != nil || f.Group() != "" {
		return fmt.Errorf("%w: resource_name %q is not a topic or topic filter", ErrInvalid, b.Resource)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.schemas[b.Schema]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, b.Schema)
	}
	if _, ok := r.bindings[b]; ok {
		return fmt.Errorf("%w: %s on %s", ErrExists, b.Schema, b.Resource)
	}
	r.nextID++
	if err := r.index.Subscribe(f, topic.Subscriber{ID: r.nextID, Target: b.Schema}, nil); err != nil {
		return fmt.Errorf("schema: bind %s to %s: %w", b.Schema, b.Resource, err)
	}
	r.bindings[b] = r.nextID
	r.bound.Add(1)
	return nil
}

// Unbind removes binding b.
func (r *Registry) Unbind(b Binding) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.bindings[b]
	if !ok {
		return fmt.Errorf("%w: %s on %s", ErrNotFound, b.Schema, b.Resource)
	}
	f, _ := topic.ParseFilter([]byte(b.Resource), topic.MQTT, nil)
	if err := r.index.Unsubscribe(f, id); err != nil {
		return fmt.Errorf("schema: unbind %s from %s: %w", b.Schema, b.Resource, err)
	}
	delete(r.bindings, b)
	r.bound.Add(-1)
	return nil
}

// Schemas lists the schemas by name.
func (r *Registry) Schemas() []Schema {
	r.mu.Lock()
	out := make([]Schema, 0, len(r.schemas))
	for _, e := range r.schemas {
		out = append(out, e.s)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Bindings lists the bindings by resource, then schema.
func (r *Registry) Bindings() []Binding {
	r.mu.Lock()
	out := make([]Binding, 0, len(r.bindings))
	for b := range r.bindings {
		out = append(out, b)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Schema < out[j].Schema
	})
	return out
}

// Check validates payload against the schemas bound to topic t (the
// message.Options.Check hook). No binding: nil, without allocating. A
// failure returns an error wrapping message.ErrRefused (Discard) or
// message.ErrRefusedDisconnect (DisconnectAndDiscard), or nil (Ignore);
// it is counted either way.
func (r *Registry) Check(t, payload []byte) error {
	if r.bound.Load() == 0 {
		return nil
	}
	p := r.match.Get().(*[]topic.Entry)
	es := r.index.Match(t, (*p)[:0])
	if len(es) == 0 {
		r.match.Put(p)
		return nil
	}
	r.checked.Inc()
	vs := *r.compiled.Load()
	var fails []error
	passed := 0
	for i := range es {
		name := es[i].Target.(string)
		v := vs[name]
		if v == nil { // deleted meanwhile
			continue
		}
		if err := v(payload); err != nil {
			fails = append(fails, fmt.Errorf("%s: %w", name, err))
		} else {
			passed++
		}
	}
	clear(es)
	*p = es[:0]
	r.match.Put(p)
	ok := len(fails) == 0 || (r.opts.Strategy == Any && passed > 0)
	if ok {
		return nil
	}
	r.failed.Inc()
	err := errors.Join(fails...)
	if r.opts.EchoLog {
		r.opts.Logger.Log(context.Background(), r.opts.LogLevel, "schema: message failed validation", "topic", string(t), "err", err)
	}
	switch r.opts.OnFailure {
	case Ignore:
		return nil
	case DisconnectAndDiscard:
		return fmt.Errorf("%w: topic %q: %w", message.ErrRefusedDisconnect, t, err)
	}
	return fmt.Errorf("%w: topic %q: %w", message.ErrRefused, t, err)
}
