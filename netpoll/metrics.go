package netpoll

import (
	"errors"
	"io"

	"github.com/VictoriaMetrics/metrics"
)

// closeClass groups close reasons into a fixed set of metric labels, so a
// protocol's error text never becomes a label value.
type closeClass uint8

const (
	closePeer         closeClass = iota // the peer closed (EOF)
	closeIO                             // a read or write failed
	closeSlowConsumer                   // ErrSlowConsumer
	closeInboundLimit                   // ErrInboundLimit
	closeShutdown                       // ErrListenerClosed
	closePanic                          // ErrHandlerPanic
	closeHandler                        // any other reason: the protocol closed it
	numCloseClasses
)

var closeClassNames = [numCloseClasses]string{
	closePeer:         "peer",
	closeIO:           "io_error",
	closeSlowConsumer: "slow_consumer",
	closeInboundLimit: "inbound_limit",
	closeShutdown:     "shutdown",
	closePanic:        "handler_panic",
	closeHandler:      "handler",
}

// classify maps a close reason to its class.
func classify(reason error) closeClass {
	var ioErr *ioError
	switch {
	case errors.Is(reason, ErrSlowConsumer):
		return closeSlowConsumer
	case errors.Is(reason, ErrInboundLimit):
		return closeInboundLimit
	case errors.Is(reason, ErrListenerClosed):
		return closeShutdown
	case errors.Is(reason, ErrHandlerPanic):
		return closePanic
	case errors.Is(reason, io.EOF):
		return closePeer
	case errors.As(reason, &ioErr):
		return closeIO
	}
	return closeHandler
}

// listenerMetrics are the metrics of one listener, all labelled
// listener="<name>". Listeners with the same name share them.
type listenerMetrics struct {
	conns             *metrics.Gauge   // robustmq_netpoll_connections
	accepted          *metrics.Counter // robustmq_netpoll_accepted_total
	rejected          *metrics.Counter // robustmq_netpoll_rejected_total: MaxConns or shutting down
	handshakeFailures *metrics.Counter // robustmq_netpoll_handshake_failures_total: TLS/WS
	bytesIn, bytesOut *metrics.Counter // robustmq_netpoll_{read,written}_bytes_total
	closed            [numCloseClasses]*metrics.Counter
}

func newListenerMetrics(name string) *listenerMetrics {
	label := `{listener="` + name + `"}`
	m := &listenerMetrics{
		conns:             metrics.GetOrCreateGauge("robustmq_netpoll_connections"+label, nil),
		accepted:          metrics.GetOrCreateCounter("robustmq_netpoll_accepted_total" + label),
		rejected:          metrics.GetOrCreateCounter("robustmq_netpoll_rejected_total" + label),
		handshakeFailures: metrics.GetOrCreateCounter("robustmq_netpoll_handshake_failures_total" + label),
		bytesIn:           metrics.GetOrCreateCounter("robustmq_netpoll_read_bytes_total" + label),
		bytesOut:          metrics.GetOrCreateCounter("robustmq_netpoll_written_bytes_total" + label),
	}
	for i, class := range closeClassNames {
		m.closed[i] = metrics.GetOrCreateCounter(`robustmq_netpoll_closed_total{listener="` + name + `",reason="` + class + `"}`)
	}
	return m
}
