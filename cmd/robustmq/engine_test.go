package main

// Node-level tests of the Storage Engine role: MQTT QoS 1 publishes land on the segment engine and are
// PUBACKed only once durable, so a SIGKILL loses none of them.

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"robustmq/segment"
	"robustmq/server/message"
)

// TestEngineKill9 publishes QoS 1 from several clients into a node with every role, SIGKILLs it
// mid-stream, restarts it on the same data path, checks the admin shard list, stops it, and then reads
// the shard offline with the segment engine: every PUBACKed message must be there.
func TestEngineKill9(t *testing.T) {
	t.Parallel()
	const (
		topic      = "engine/kill9"
		publishers = 4
		killAfter  = 200 // PUBACKs before the SIGKILL
	)
	pt := freePorts(t)
	dir := t.TempDir()
	cfg := writeConfig(t, pt.toml(dir, ""))
	p := launch(t, nil, "--config", cfg)
	p.waitReady(t, pt["http_port"])
	p.logHas(t, `msg="engine: recovered" .*segment_shards=0 `, `msg=start .*step=engine `+duration,
		`msg="broker: storage from this node's engine" .*engine=segment`)

	var wg sync.WaitGroup
	acks := newAckSet(killAfter) // payloads whose PUBACK arrived
	url := "tcp://127.0.0.1:" + strconv.Itoa(pt["mqtt_runtime.server.tcp_port"])
	for w := range publishers {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("kill9-" + strconv.Itoa(w)).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %d: %v", w, tok.Error())
		}
		wg.Go(func() {
			defer c.Disconnect(0)
			for i := 0; ; i++ {
				payload := fmt.Sprintf("p%d-%06d", w, i)
				tok := c.Publish(topic, 1, false, payload)
				if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					return // the node is gone
				}
				acks.add(payload)
			}
		})
	}
	acks.wait(t, "PUBACKs")
	// The messages went to the segment engine, and its group commit ran.
	m := metricValues(t, pt["http_port"], `robustmq_storage_append_records_total{engine="segment"}`,
		"robustmq_storage_segment_fsyncs_total")
	if m[0] < killAfter || m[1] < 1 {
		t.Fatalf("segment appends %v, fsyncs %v; want >= %d and >= 1", m[0], m[1], killAfter)
	}
	p.signal(t, syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	wg.Wait()
	acked := acks.set
	t.Logf("%d messages PUBACKed before SIGKILL", len(acked))

	// Restart: the shard is mounted from disk and listed with at least every acknowledged record.
	p = launch(t, nil, "--config", cfg)
	p.waitReady(t, pt["http_port"])
	p.logHas(t, `msg="engine: recovered" .*segment_shards=1 `)
	name := message.ShardName(topic)
	var page struct {
		Data []struct {
			Name, Engine     string
			Earliest, Latest int64
		} `json:"data"`
		Total int `json:"total_count"`
	}
	getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/storage-engine/shard/list?filter_field=name&filter_values=%s",
		pt["http_port"], name), &page)
	if page.Total != 1 || page.Data[0].Engine != "segment" || page.Data[0].Latest < int64(len(acked)) {
		t.Fatalf("shard list after restart: %+v; want %s on segment with latest >= %d", page, name, len(acked))
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}

	// Offline: the segment engine on the node's data path holds every PUBACKed payload.
	seg, err := segment.Open(segment.Options{Dir: filepath.Join(dir, "data", "engine", "segment"),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	found := map[string]bool{}
	for off := int64(0); ; {
		res, err := seg.Read(name, off, 1000, 1<<20)
		if err != nil {
			t.Fatalf("read %s at %d: %v", name, off, err)
		}
		for _, r := range res.Records {
			found[string(r.Value)] = true
		}
		off = res.Next
		done := off >= res.Latest
		res.Release()
		if done {
			break
		}
	}
	lost := 0
	for pl := range acked {
		if !found[pl] {
			lost++
		}
	}
	if lost != 0 {
		t.Fatalf("%d of %d PUBACKed messages are not in %s (%d records on disk)", lost, len(acked), name, len(found))
	}
}

// TestBrokerOnlyStorageWarning: a node with roles = ["broker"] says that its messages stay in memory.
func TestBrokerOnlyStorageWarning(t *testing.T) {
	t.Parallel()
	pt := freePorts(t)
	delete(pt, "storage_runtime.tcp_port")
	p := launch(t, nil, "--config", writeConfig(t, pt.toml(t.TempDir(),
		"roles = [\"broker\"]\nmeta_addrs = { \"1\" = \""+launchMeta(t)+"\" }\n")))
	p.waitReady(t, pt["http_port"])
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d; want 0", code)
	}
	p.logHas(t, `level=WARN msg="broker: this node has no engine role and remote storage engines are not wired yet`)
}

// metricValues scrapes the node's /metrics and returns the values of the named series, in order; a
// missing series fails the test.
func metricValues(t *testing.T, httpPort int, series ...string) []float64 {
	t.Helper()
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := make([]float64, len(series))
	for i, s := range series {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(s) + ` ([0-9.e+]+)$`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("/metrics has no %s", s)
		}
		if out[i], err = strconv.ParseFloat(string(m[1]), 64); err != nil {
			t.Fatalf("/metrics %s: %v", s, err)
		}
	}
	return out
}
