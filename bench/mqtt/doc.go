// Package mqtt is the MQTT load generator behind `robustmq bench mqtt`: a
// lean client on raw TCP built on codec/mqtt (CONNECT, SUBSCRIBE, PUBLISH at
// QoS 0 and 1 with a pipelining window, PUBACK), so the tool itself is not
// the bottleneck (a paho.mqtt.golang publisher tops out near 235 k QoS 0
// msg/s per connection; the lean publisher writes batches of frames with
// one write call and reads one clock per batch).
//
// # Scenarios
//
// Run (pubsub) connects Subs subscribers to one topic, then Pubs publishers
// publish to it for Duration, optionally paced to Rate msg/s in total; it
// then waits for QoS 1 PUBACKs and for every subscriber to receive what was
// sent (or to stop making progress for Drain), and reports one Result:
// deliveries per second, latency percentiles, lost and duplicate counts.
// RunConns (conn) holds Count idle connections, optionally spread over
// Procs child processes (one process is limited to 20,000 files), and reads
// the server's process_resident_memory_bytes before and after.
//
// # Payload (frozen for a run: publisher and subscriber must agree)
//
//	bytes 0..3    publisher id, uint32 big-endian (0..Pubs-1)
//	bytes 4..11   sequence, uint64 big-endian, dense from 0 per publisher
//	bytes 12..19  send time, int64 big-endian Unix nanoseconds
//	bytes 20..    zero padding up to Size (Size >= 20)
//
// # Accounting
//
// Each subscriber keeps, per publisher, a bitset of the sequences it
// received: a sequence seen twice is a duplicate, and at the end every
// sequence below what the publisher sent and never seen is lost. So lost and
// dup are exact, whatever the order of delivery. At QoS 1 each publisher's
// PUBACK reader keeps the same bitset of acknowledged sequences (a PUBACK's
// packet id names one sequence because the publisher keeps the span of
// unacknowledged sequences below the window, <= 65535), and lost_acked
// counts acknowledged sequences a subscriber never received: the broker
// broke its promise, where plain lost may be a QoS 0 drop. A payload that does not
// parse (short, unknown publisher) is counted as bad. Latency is the
// receive time (one clock read per read batch) minus the send time (one
// clock read per write batch), kept in an HDR histogram per subscriber
// (2 significant digits, 1 ns..60 s) and merged at the end.
//
// # Goroutines
//
// Run owns every goroutine it starts: one per subscriber (read loop, acks
// written after each read batch), one per publisher (write loop) plus one
// PUBACK reader per QoS 1 publisher. All are stopped by closing their
// connections and are waited for before Run returns; every wait is bounded
// by Duration + Drain. Nothing here is shared between connections except
// atomic counters read by Run to decide the drain is over.
package mqtt
