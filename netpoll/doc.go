// Package netpoll is where connections come from. A protocol implements
// Handler once and is served over every transport:
//
//	tcp       gnet v2 event loops, one engine shared by every TCP listener
//	          of the process (EventLoops, default half the Ps). Each
//	          listener accepts in its own goroutine with the standard
//	          library and enrolls the socket in a loop (gnet dups it).
//	          TCP_NODELAY is on.
//	tls       crypto/tls, one reader and one writer goroutine per connection.
//	ws, wss   coder/websocket on net/http (wss: over crypto/tls), binary
//	          messages read and written as one byte stream; same goroutines.
//
// # Goroutines
//
// Every connection has one "handler goroutine" at a time: OnOpen, OnData,
// OnClose and the connection's Do functions and AsyncWrite completions never
// run concurrently, and each sees what the previous one wrote. On tcp it is
// the connection's gnet loop, shared with thousands of connections, so a
// callback must never block: send fsync, raft and other slow work to a
// bounded worker and answer with Do or AsyncWrite. On tls/ws/wss it is the
// reader goroutine (OnOpen, OnData, OnClose) or the writer goroutine (Do,
// AsyncWrite), serialized by a per-connection mutex.
//
// Owners: a Listener owns its accept goroutine (net/http's Serve for
// ws/wss) and, on tls/ws/wss, each connection's reader, which owns that
// connection's writer; Shutdown waits for all of them. The gnet engine is
// owned by the open TCP listeners together: the first starts it, the last
// one's Shutdown stops it and waits for its loops.
//
// On tls/ws/wss the lock order is hmu (the handler mutex), then the output
// queue's mutex or the task queue's mutex; neither of those is held while
// taking another lock.
//
// RunNow(a, b, fn), called in a callback of a, runs fn(b) at once when a
// and b are TCP connections of one gnet loop (then that loop is b's handler
// goroutine too), as b's Do would run it later; otherwise it reports false.
//
// Handler goroutine only: Context, SetContext, Write, OutboundBuffered.
// Any goroutine: ID, LocalAddr, RemoteAddr, Listener, Transport, AsyncWrite,
// Do, Close. Do and AsyncWrite run in the order they were called, after the
// callback running at that moment.
//
// # Input
//
// OnData(c, in) gets every byte not consumed yet. in aliases netpoll memory
// and dies when OnData returns: a decoder may return views into in, and the
// protocol copies only what outlives the call. On tcp, when no bytes were
// kept, in is the loop's read buffer itself (no copy). The handler returns
// how many leading bytes it is done with; netpoll copies the rest into a
// pooled per-connection buffer and presents it again, followed by the next
// read. OnData is called once per read, so it must consume every complete
// frame it was given. Unconsumed input over MaxInboundBytes closes the
// connection with ErrInboundLimit; decoders should still check a frame's
// declared size before waiting for it.
//
// # Output and backpressure
//
// Write copies into a pooled buffer and never blocks; the buffer is sent
// with one write when the callback returns, so the replies to a batch of
// requests leave in one syscall. Buffers come from size-classed pools
// (pool.go, 512 B to 1 MiB; output in chunks of at most 64 KiB), so steady
// traffic allocates nothing. Bytes the kernel does not take stay queued
// (gnet's outbound buffer on tcp, the writer's queue otherwise).
// Unsent output is bounded: a Write that would pass MaxOutboundBytes, or
// output left over the limit after a flush, closes the connection with
// ErrSlowConsumer (metric closed_total{reason="slow_consumer"}); memory never
// grows without bound. Closing is the only policy: gnet v2 cannot stop
// reading one connection, and a paused connection would still hold its
// buffers. A protocol that wants flow control watches OutboundBuffered and
// stops producing (for example stops delivering to a subscriber) before the
// limit. AsyncWrite and Do go through a per-connection queue bounded by
// MaxQueuedTasks and, for AsyncWrite bytes, MaxOutboundBytes; a full queue
// also closes with ErrSlowConsumer.
//
// # Closing
//
// Close(reason), or an error from a callback, closes the connection; the
// first reason wins and is the one OnClose sees. No OnData runs after it,
// Write returns ErrClosed, and output already written is flushed on a
// best-effort basis (tls/ws: for at most CloseLinger; not at all after
// ErrSlowConsumer or an I/O error). A peer's close is reported as io.EOF.
// A panic in handler code (a Handler method, a Do function, an AsyncWrite
// callback) is recovered, logged with its stack and closes that connection
// with ErrHandlerPanic: one client's bytes hitting a codec bug must not stop
// the process. OnClose runs exactly once for every connection whose OnOpen
// ran (also when OnOpen failed), never inside another handler call of the
// same connection: when a Write in OnData or a Do function fails (tcp:
// gnet closes inside its write), OnClose waits until that call returned,
// so a handler may hold a lock its OnClose takes. Then queued Do functions are dropped and
// queued AsyncWrites complete with ErrClosed. Connections over MaxConns are closed
// before OnOpen and counted as rejected. Idle and half-open connections are
// the protocol's to reap through its keepalive (Close from a timer);
// TCPKeepAlive adds kernel probes for protocols without one.
//
// # Listeners
//
// Listen returns once the socket is bound and served, or with an error
// naming the address. Addr gives the bound address (port 0 in tests).
// Shutdown stops accepting, closes every connection with ErrListenerClosed,
// waits until every OnClose ran and the listener's goroutines exited.
//
// # Metrics
//
// Per listener, labelled listener="<name>": robustmq_netpoll_connections
// (gauge), robustmq_netpoll_accepted_total, robustmq_netpoll_rejected_total
// (MaxConns or shutting down), robustmq_netpoll_handshake_failures_total,
// robustmq_netpoll_read_bytes_total, robustmq_netpoll_written_bytes_total and
// robustmq_netpoll_closed_total{reason=peer|io_error|slow_consumer|
// inbound_limit|shutdown|handler_panic|handler}.
//
// # Memory per connection
//
// On tcp an idle connection holds gnet's conn, this package's conn and its
// two addresses: input and output buffers are taken from pools only while
// they hold bytes, and the read buffer belongs to the loop.
// BenchmarkIdleConnMemory measures about 700 B of Go heap and no stack per
// idle connection, against 66 KB of heap and 2 KB of stack for a
// goroutine-per-connection server with a 64 KiB buffer. A listener enrolls
// one socket at a time (about 10-15k connections/s on 2 CPUs), which keeps
// gnet's enrollment worker pool at one goroutine per listener. tls/ws/wss hold two
// goroutine stacks, a ReadBufferBytes buffer and the TLS or WebSocket state.
package netpoll
