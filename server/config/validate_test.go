package config

import (
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func names(ls []ListenerSpec) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

func TestListenersByRole(t *testing.T) {
	f := func(roles []string, want ...string) {
		t.Helper()
		c := Default()
		c.Roles = roles
		if got := names(c.Listeners()); !slices.Equal(got, want) {
			t.Errorf("roles %v: listeners %v; want %v", roles, got, want)
		}
	}
	base := []string{"grpc", "http", "prometheus"}
	broker := []string{"mqtt_tcp", "mqtt_tls", "mqtt_ws", "mqtt_wss", "kafka_tcp",
		"nats_tcp", "nats_tls", "nats_ws", "nats_wss", "amqp_tcp"}
	f([]string{"meta"}, base...)
	f([]string{"engine"}, append(slices.Clone(base), "engine_tcp")...)
	f([]string{"broker"}, append(slices.Clone(base), broker...)...)
	f([]string{"engine", "meta", "broker"}, append(append(slices.Clone(base), broker...), "engine_tcp")...)
}

func TestListenerFields(t *testing.T) {
	c := Default()
	c.BindIP = "::1"
	c.KafkaRuntime.TCPPort = 0 // disabled
	c.PrometheusPort = 0
	byName := map[string]ListenerSpec{}
	for _, l := range c.Listeners() {
		byName[l.Name] = l
	}
	if _, ok := byName["kafka_tcp"]; ok {
		t.Error("kafka_tcp listed with tcp_port 0")
	}
	if _, ok := byName["prometheus"]; ok {
		t.Error("prometheus listed with prometheus_port 0")
	}
	want := ListenerSpec{Name: "mqtt_wss", Key: "mqtt_runtime.server.websockets_port", Addr: "[::1]:8085", Port: 8085, TLS: true}
	if got := byName["mqtt_wss"]; got != want {
		t.Errorf("mqtt_wss = %+v; want %+v", got, want)
	}
	for _, l := range c.Listeners() {
		tls := l.Name == "mqtt_tls" || l.Name == "mqtt_wss" || l.Name == "nats_tls" || l.Name == "nats_wss"
		if l.TLS != tls {
			t.Errorf("%s: TLS %v; want %v", l.Name, l.TLS, tls)
		}
		if _, err := net.ResolveTCPAddr("tcp", l.Addr); err != nil {
			t.Errorf("%s: Addr %q: %v", l.Name, l.Addr, err)
		}
	}
}

// A listener bound on a real socket: the spec's Addr is usable as is.
func TestListenerAddrBinds(t *testing.T) {
	c := Default()
	c.BindIP = "127.0.0.1"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.HTTPPort = port
	i := slices.IndexFunc(c.Listeners(), func(l ListenerSpec) bool { return l.Name == "http" })
	ln, err = net.Listen("tcp", c.Listeners()[i].Addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", c.Listeners()[i].Addr, err)
	}
	ln.Close()
}

func TestMetaNodesSorted(t *testing.T) {
	c := Default()
	c.MetaAddrs = map[string]string{"10": "h10:1", "2": "h2:1", "1": "127.0.0.1:1228"}
	want := []MetaNode{{1, "127.0.0.1:1228"}, {2, "h2:1"}, {10, "h10:1"}}
	if got := c.MetaNodes(); !slices.Equal(got, want) {
		t.Errorf("MetaNodes() = %v; want %v", got, want)
	}
}

func TestAdvertiseIP(t *testing.T) {
	c := Default()
	if ip := net.ParseIP(c.AdvertiseIP()); ip == nil || ip.To4() == nil {
		t.Errorf("detected AdvertiseIP() = %q; want an IPv4 address", c.AdvertiseIP())
	}
	c.BrokerIP = "broker-1.example"
	if got := c.AdvertiseIP(); got != "broker-1.example" {
		t.Errorf("AdvertiseIP() = %q; want broker_ip", got)
	}
}

func TestLogHelpers(t *testing.T) {
	for level, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
	} {
		if got := (LogConfig{Level: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%s) = %v; want %v", level, got, want)
		}
	}
	l := LogConfig{LogPath: "/var/log/rmq", Output: "file"}
	if got := l.File(); got != filepath.Join("/var/log/rmq", "robustmq.log") {
		t.Errorf("File() = %q", got)
	}
	if l.Output = "stdout"; l.File() != "" {
		t.Errorf("File() with stdout = %q; want empty", l.File())
	}
}

// Validate on a Config built in code reports the same problems as Load.
func TestValidateInCode(t *testing.T) {
	c := Default()
	c.GRPCPort = 70000
	c.NATSRuntime.TCPPort = 1883
	c.Roles = nil
	c.Network.ReadBufferBytes = -1
	var keys []string
	for _, ke := range keyErrors(t, c.Validate()) {
		keys = append(keys, ke.Key)
	}
	// No roles: nothing but grpc/http/prometheus is bound, so no conflict.
	want := []string{"grpc_port", "roles", "network.read_buffer_bytes"}
	if !slices.Equal(keys, want) {
		t.Errorf("Validate() errors on %v; want %v", keys, want)
	}
}

func TestMaxInboundBytes(t *testing.T) {
	c := Default()
	f := func(name string, want int) {
		t.Helper()
		if got := c.MaxInboundBytes(name); got != want {
			t.Errorf("MaxInboundBytes(%s) = %d; want %d", name, got, want)
		}
	}
	f("mqtt_tcp", 10<<20+5+64<<10)
	f("mqtt_wss", 10<<20+5+64<<10)
	f("nats_tcp", 1<<20+4<<10+64<<10)
	f("kafka_tcp", 100<<20+64<<10)
	f("amqp_tcp", 1<<20+64<<10)
	c.MQTTRuntime.Protocol.MaxPacketSize = 1000
	f("mqtt_ws", 1000+5+64<<10)
	c.Network.MaxInboundBytes = 8192 // explicit: every listener
	f("mqtt_tcp", 8192)
	f("kafka_tcp", 8192)
}

func TestDurations(t *testing.T) {
	c := Default()
	if got := c.Network.TCPKeepAlive(); got != 60*time.Second {
		t.Errorf("TCPKeepAlive() = %v", got)
	}
	if got := c.Network.HandshakeTimeout(); got != 10*time.Second {
		t.Errorf("HandshakeTimeout() = %v", got)
	}
	if got := c.Network.CloseLinger(); got != time.Second {
		t.Errorf("CloseLinger() = %v", got)
	}
	if got := c.Runtime.ShutdownTimeout(); got != 10*time.Second {
		t.Errorf("ShutdownTimeout() = %v", got)
	}
	if got := c.Admin.TokenTTL(); got != 8*time.Hour {
		t.Errorf("TokenTTL() = %v", got)
	}
}
