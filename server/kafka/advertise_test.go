package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// With broker_ip unset (AdvertiseLocal), Metadata and FindCoordinator send each client back to the address
// it dialled; otherwise to Advertised's host. 127.0.0.2 stands for "some other address of this host".
func TestAdvertiseLocal(t *testing.T) {
	for _, c := range []struct {
		local bool
		want  string
	}{
		{false, "127.0.0.2"},
		{true, "127.0.0.1"},
	} {
		b := startBroker(t, func(o *Options) { o.Advertised, o.AdvertiseLocal = "127.0.0.2:0", c.local })
		cl := b.client(t)
		md, err := kmsg.NewPtrMetadataRequest().RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].Host != c.want {
			t.Errorf("AdvertiseLocal=%v: Metadata brokers = %+v; want one at %s", c.local, md.Brokers, c.want)
		}
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.CoordinatorKey = "g"
		fr, err := fc.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		if fr.Host != c.want {
			t.Errorf("AdvertiseLocal=%v: FindCoordinator host = %q; want %s", c.local, fr.Host, c.want)
		}
	}
}
