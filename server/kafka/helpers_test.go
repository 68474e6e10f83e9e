package kafka

import (
	"cmp"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"robustmq/netpoll"
	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/offsetstore"
)

// testBroker is a Server on 127.0.0.1:0 over a memory router and an
// OffsetStore in a temp dir, shut down by t.Cleanup.
type testBroker struct {
	s    *Server
	addr string
	r    *shard.Router
	offs *offsetstore.Store
}

func startBroker(t *testing.T, mod func(*Options)) *testBroker {
	t.Helper()
	r, offs := newStorage(t, memory.Options{ChunkBytes: 64 << 10})
	return startOn(t, r, offs, mod)
}

// newStorage is a memory-engine router and an OffsetStore in a temp dir;
// the caller closes them.
func newStorage(tb testing.TB, mo memory.Options) (*shard.Router, *offsetstore.Store) {
	tb.Helper()
	r, err := shard.NewRouter([]shard.Engine{memory.New(mo)}, shard.RouterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	offs, err := offsetstore.Open(tb.TempDir(), offsetstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return r, offs
}

func startOn(t *testing.T, r *shard.Router, offs *offsetstore.Store, mod func(*Options)) *testBroker {
	t.Helper()
	return startListening(t, r, offs, mod, netpoll.ListenerConfig{})
}

// startListening is startOn with lc for the listener (127.0.0.1:0 and one
// event loop unless set).
func startListening(t *testing.T, r *shard.Router, offs *offsetstore.Store, mod func(*Options),
	lc netpoll.ListenerConfig) *testBroker {
	t.Helper()
	opts := Options{Router: r, Offsets: offs, Advertised: "127.0.0.1:0", AutoCreate: true}
	if mod != nil {
		mod(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	lc.Addr, lc.EventLoops = cmp.Or(lc.Addr, "127.0.0.1:0"), cmp.Or(lc.EventLoops, 1)
	l, err := s.Listen(lc)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBroker{s: s, addr: l.Addr().String(), r: r, offs: offs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		offs.Close()
		r.Close()
	})
	return b
}

// client is a franz-go client of b, closed by t.Cleanup.
func (b *testBroker) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.addr), kgo.RetryTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
