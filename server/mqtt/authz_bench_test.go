package mqtt

import (
	"context"
	"testing"

	"robustmq/codec/mqtt"
	"robustmq/server/message"
	"robustmq/server/message/auth"
)

// BenchmarkInboundACL: one QoS 0 128-byte PUBLISH through OnData without
// Access (baseline) and with an ACL of 10 rules the topic passes after
// walking them all, in the same run. The check itself allocates nothing:
// allocs/op must equal the baseline's.
func BenchmarkInboundACL(b *testing.B) {
	st, err := auth.New(context.Background(), auth.Options{DenyNoMatch: true, AllowAnonymous: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range []string{"a/#", "b/#", "c/#", "d/#", "e/#", "f/#", "g/#", "h/#", "i/#"} {
		if err := st.AddRule(context.Background(), auth.Rule{Subject: auth.AnyClient, Topic: t, Action: auth.Publish}); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.AddRule(context.Background(), auth.Rule{Subject: auth.AnyClient, Topic: "in/+", Action: auth.Publish, Allow: true}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		access *auth.Store
	}{{"baseline", nil}, {"acl-10-rules", st}} {
		b.Run(c.name, func(b *testing.B) {
			srv, err := New(Options{Hub: message.New(message.Options{}), Access: c.access})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			fc := &fakeConn{}
			_ = srv.OnOpen(fc)
			var cp mqtt.Connect
			cp.Version, cp.CleanStart, cp.ClientID = mqtt.V311, true, []byte("in")
			if _, err := srv.OnData(fc, mqtt.AppendConnect(nil, &cp)); err != nil {
				b.Fatal(err)
			}
			pkt := publish(mqtt.V311, "in/x", 0, 1, string(make([]byte, 128)))
			b.ReportAllocs()
			b.SetBytes(128)
			for b.Loop() {
				if _, err := srv.OnData(fc, pkt); err != nil {
					b.Fatal(err)
				}
				fc.run()
				fc.out = fc.out[:0]
			}
		})
	}
}
