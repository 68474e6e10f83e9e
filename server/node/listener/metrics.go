package listener

import (
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// Metrics are one listener's series in the default metrics set. Get them with MetricsFor; the same name
// gives the same series.
type Metrics struct {
	name          string
	Connections   *metrics.Gauge   // open connections now
	Accepted      *metrics.Counter // connections accepted
	ReceivedBytes *metrics.Counter // bytes read
	SentBytes     *metrics.Counter // bytes written

	mu     sync.Mutex
	errors map[string]*metrics.Counter // guarded by mu; by reason
}

var (
	byNameMu sync.Mutex
	byName   = map[string]*Metrics{} // guarded by byNameMu
)

// MetricsFor returns the metrics of the listener named name, creating them on first use.
func MetricsFor(name string) *Metrics {
	byNameMu.Lock()
	defer byNameMu.Unlock()
	if m, ok := byName[name]; ok {
		return m
	}
	l := `{listener="` + name + `"}`
	m := &Metrics{
		name:          name,
		Connections:   metrics.GetOrCreateGauge("robustmq_listener_connections"+l, nil),
		Accepted:      metrics.GetOrCreateCounter("robustmq_listener_accepted_total" + l),
		ReceivedBytes: metrics.GetOrCreateCounter("robustmq_listener_received_bytes_total" + l),
		SentBytes:     metrics.GetOrCreateCounter("robustmq_listener_sent_bytes_total" + l),
		errors:        map[string]*metrics.Counter{},
	}
	byName[name] = m
	return m
}

// Error counts one error of the given reason. Reasons are a small fixed set per listener kind
// (accept, read, write, decode, ...), never free text, so the series stay bounded.
func (m *Metrics) Error(reason string) {
	m.mu.Lock()
	c, ok := m.errors[reason]
	if !ok {
		c = metrics.GetOrCreateCounter(`robustmq_listener_errors_total{listener="` + m.name + `",reason="` + reason + `"}`)
		m.errors[reason] = c
	}
	m.mu.Unlock()
	c.Inc()
}
