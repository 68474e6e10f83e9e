package schema

import (
	"errors"
	"testing"

	"github.com/hamba/avro/v2"

	"robustmq/server/message"
)

const tempJSON = `{"type":"object","properties":{"temp":{"type":"number","minimum":-50,"maximum":100}},"required":["temp"]}`

const tempAvro = `{"type":"record","name":"T","fields":[{"name":"temp","type":"double"}]}`

func avroPayload(t *testing.T, temp float64) []byte {
	t.Helper()
	b, err := avro.Marshal(avro.MustParse(tempAvro), map[string]any{"temp": temp})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func registry(t *testing.T, opts Options, binds ...Binding) *Registry {
	t.Helper()
	r := New(opts)
	for _, s := range []Schema{{Name: "tj", Type: TypeJSON, Definition: tempJSON},
		{Name: "ta", Type: TypeAvro, Definition: tempAvro}} {
		if err := r.Create(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range binds {
		if err := r.Bind(b); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestCheck(t *testing.T) {
	r := registry(t, Options{}, Binding{Schema: "tj", Resource: "sensor/+/temp"}, Binding{Schema: "ta", Resource: "avro/t"})
	for _, c := range []struct {
		topic, payload string
		ok             bool
	}{
		{"sensor/1/temp", `{"temp": 21.5}`, true},
		{"sensor/1/temp", `{"temp": 210}`, false},
		{"sensor/1/temp", `{"t": 1}`, false},
		{"sensor/1/temp", `not json`, false},
		{"other/topic", `not json`, true}, // unbound
		{"avro/t", string(avroPayload(t, 3.5)), true},
		{"avro/t", "\x01", false},
	} {
		err := r.Check([]byte(c.topic), []byte(c.payload))
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, message.ErrRefused)) {
			t.Errorf("Check(%s, %q) = %v; want ok %v", c.topic, c.payload, err, c.ok)
		}
	}
}

func TestStrategyAndFailure(t *testing.T) {
	both := []Binding{{Schema: "tj", Resource: "x"}, {Schema: "ta", Resource: "x"}}
	json := []byte(`{"temp": 1}`) // passes tj, fails ta
	for _, c := range []struct {
		name   string
		opts   Options
		ok     bool
		closes bool
	}{
		{"all", Options{Strategy: All}, false, false},
		{"any", Options{Strategy: Any}, true, false},
		{"disconnect", Options{OnFailure: DisconnectAndDiscard}, false, true},
		{"ignore", Options{OnFailure: Ignore}, true, false},
	} {
		err := registry(t, c.opts, both...).Check([]byte("x"), json)
		if (err == nil) != c.ok || errors.Is(err, message.ErrRefusedDisconnect) != c.closes {
			t.Errorf("%s: Check = %v; want ok %v disconnect %v", c.name, err, c.ok, c.closes)
		}
	}
}

func TestRegistryErrors(t *testing.T) {
	r := registry(t, Options{}, Binding{Schema: "tj", Resource: "a/#"})
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"duplicate", r.Create(Schema{Name: "tj", Type: TypeJSON, Definition: `{}`}), ErrExists},
		{"bad json", r.Create(Schema{Name: "b", Type: TypeJSON, Definition: `{`}), ErrInvalid},
		{"bad avro", r.Create(Schema{Name: "b", Type: TypeAvro, Definition: `{"type":"nope"}`}), ErrInvalid},
		{"protobuf", r.Create(Schema{Name: "b", Type: TypeProtobuf, Definition: `syntax = "proto3";`}), ErrInvalid},
		{"unknown type", r.Create(Schema{Name: "b", Type: "xml", Definition: `<a/>`}), ErrInvalid},
		{"no name", r.Create(Schema{Type: TypeJSON, Definition: `{}`}), ErrInvalid},
		{"bind unknown", r.Bind(Binding{Schema: "nope", Resource: "a"}), ErrNotFound},
		{"bind twice", r.Bind(Binding{Schema: "tj", Resource: "a/#"}), ErrExists},
		{"bind bad filter", r.Bind(Binding{Schema: "tj", Resource: "a/#/b"}), ErrInvalid},
		{"delete bound", r.Delete("tj"), ErrInUse},
		{"unbind unknown", r.Unbind(Binding{Schema: "ta", Resource: "a/#"}), ErrNotFound},
		{"delete unknown", r.Delete("nope"), ErrNotFound},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v; want %v", c.name, c.err, c.want)
		}
	}
	if err := r.Unbind(Binding{Schema: "tj", Resource: "a/#"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Check([]byte("a/b"), []byte("not json")); err != nil {
		t.Fatalf("after unbind: %v", err)
	}
	if err := r.Delete("tj"); err != nil {
		t.Fatal(err)
	}
	if got := r.Schemas(); len(got) != 1 || got[0].Name != "ta" {
		t.Fatalf("Schemas = %+v", got)
	}
}

// TestCheckUnboundAllocs: a topic without a binding costs no allocation,
// so the publish path pays nothing for an unused registry.
func TestCheckUnboundAllocs(t *testing.T) {
	r := registry(t, Options{}, Binding{Schema: "tj", Resource: "bound/+"})
	topic, payload := []byte("free/topic"), []byte("x")
	if n := testing.AllocsPerRun(100, func() { _ = r.Check(topic, payload) }); n != 0 {
		t.Fatalf("Check of an unbound topic: %v allocs; want 0", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	r := New(Options{})
	if err := r.Create(Schema{Name: "tj", Type: TypeJSON, Definition: tempJSON}); err != nil {
		b.Fatal(err)
	}
	if err := r.Bind(Binding{Schema: "tj", Resource: "sensor/+/temp"}); err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"temp": 21.5, "unit": "C"}`)
	for _, c := range []struct{ name, topic string }{{"unbound", "other/1/temp"}, {"json", "sensor/1/temp"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			t := []byte(c.topic)
			for b.Loop() {
				if err := r.Check(t, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
