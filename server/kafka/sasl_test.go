package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TestSASL: every mechanism with the right and a wrong password, and a
// client without SASL refused.
func TestSASL(t *testing.T) {
	users, err := NewStaticUsers(map[string]string{"alice": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, func(o *Options) {
		o.SASLMechanisms = []string{mechPlain, mechSHA256, mechSHA512}
		o.Users = users
	})
	mechs := map[string]func(user, pass string) sasl.Mechanism{
		"plain": func(u, p string) sasl.Mechanism { return plain.Auth{User: u, Pass: p}.AsMechanism() },
		"scram-256": func(u, p string) sasl.Mechanism {
			return scram.Auth{User: u, Pass: p}.AsSha256Mechanism()
		},
		"scram-512": func(u, p string) sasl.Mechanism {
			return scram.Auth{User: u, Pass: p}.AsSha512Mechanism()
		},
	}
	for name, mech := range mechs {
		t.Run(name, func(t *testing.T) {
			ok := b.client(t, kgo.SASL(mech("alice", "s3cret")), kgo.DefaultProduceTopic("sasl-"+name), kgo.AllowAutoTopicCreation())
			if err := ok.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatalf("right password: %v", err)
			}
			bad := b.client(t, kgo.SASL(mech("alice", "wrong")), kgo.DefaultProduceTopic("sasl-"+name),
				kgo.RetryTimeout(0), kgo.RequestRetries(0))
			if err := bad.Ping(testCtx(t)); err == nil {
				t.Fatal("wrong password accepted")
			}
		})
	}
	anon := b.client(t, kgo.RequestRetries(0))
	if err := anon.Ping(testCtx(t)); err == nil {
		t.Fatal("client without SASL served")
	}
}
