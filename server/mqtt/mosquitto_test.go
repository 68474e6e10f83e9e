package mqtt

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"robustmq/netpoll"
)

// TestMosquittoClients drives Debian's mosquitto_pub and mosquitto_sub
// (package mosquitto-clients) against the server over TCP and TLS
// (--cafile), for MQTT 5.0, 3.1.1 and 3.1. The 2.0 clients have no
// WebSocket transport; WebSocket is covered by TestTransports.
func TestMosquittoClients(t *testing.T) {
	for _, bin := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install -y mosquitto-clients): %v", bin, err)
		}
	}
	ts := start(t, nil)
	cert, _ := selfSigned(t, "server")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsAddr := ts.listen(t, netpoll.TLS, &tls.Config{Certificates: []tls.Certificate{cert}}).Addr().String()
	hostPort := func(addr string) []string {
		h, p, _ := net.SplitHostPort(addr)
		return []string{"-h", h, "-p", p}
	}
	tcp, tlsArgs := hostPort(ts.addr), append(hostPort(tlsAddr), "--cafile", ca)
	for _, c := range []struct {
		name    string
		conn    []string
		version string
		qos     string
	}{
		{"tcp v5 qos1", tcp, "mqttv5", "1"},
		{"tcp v311 qos2", tcp, "mqttv311", "2"},
		{"tcp v31 qos0", tcp, "mqttv31", "0"},
		{"tls v5 qos1", tlsArgs, "mqttv5", "1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := "mq/" + strings.ReplaceAll(c.name, " ", "_")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			args := append([]string{"-V", c.version, "-q", c.qos}, c.conn...)
			sub := exec.CommandContext(ctx, "mosquitto_sub", append(args, "-t", "mq/#", "-C", "1", "-v", "-i", "sub-"+c.version)...)
			var out strings.Builder
			sub.Stdout, sub.Stderr = &out, &out
			if err := sub.Start(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "mosquitto_sub connected", func() bool { return ts.online("sub-" + c.version) })
			if b, err := exec.CommandContext(ctx, "mosquitto_pub", append(args, "-t", topic, "-m", "hi")...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub: %v: %s", err, b)
			}
			if err := sub.Wait(); err != nil {
				t.Fatalf("mosquitto_sub: %v: %s", err, out.String())
			}
			if got, want := strings.TrimSpace(out.String()), topic+" hi"; got != want {
				t.Fatalf("mosquitto_sub printed %q; want %q", got, want)
			}
		})
	}
	t.Run("retained", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if b, err := exec.CommandContext(ctx, "mosquitto_pub", append(tcp, "-V", "mqttv5", "-q", "1", "-r", "-t", "mr/1", "-m", "kept")...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, b)
		}
		b, err := exec.CommandContext(ctx, "mosquitto_sub", append(tcp, "-V", "mqttv5", "-t", "mr/#", "-C", "1", "-v")...).CombinedOutput()
		if got := strings.TrimSpace(string(b)); err != nil || got != "mr/1 kept" {
			t.Fatalf("mosquitto_sub: %v: %q; want %q", err, got, "mr/1 kept")
		}
	})
}
