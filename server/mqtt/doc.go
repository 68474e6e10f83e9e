// Package mqtt is the MQTT broker logic: versions 3.1, 3.1.1 and 5.0 on
// any netpoll listener (tcp, tls, ws, wss), built on the codec/mqtt
// decoder and encoders and on the message hub (server/message) for
// delivery and storage.
//
// # Goroutines
//
// Server implements netpoll.Handler. Everything a connection does runs on
// its handler goroutine (its gnet loop on tcp): decoding, session updates,
// encoding. Two things come from elsewhere and hop onto it with
// netpoll.Conn.Do: a delivery from a publisher on another connection
// (session.enqueue schedules conn.flush) and a store acknowledgement
// (conn.acker writes the PUBACK/PUBREC). The server owns one goroutine, the
// keepalive wheel (wheel.go), which also times out connections that send no
// CONNECT; Close stops it. StartSys adds the $SYS publisher (sys.go), one
// goroutine that Sys.Close stops; with Options.State, one more runs the
// session-log maintenance (persist.go) until Close. Delayed wills and session expiry use one
// time.AfterFunc per offline session that needs one, never one per
// connection.
//
// # Memory per connection
//
// A connection holds a conn (about 200 B) and, after CONNECT, its session
// (about 250 B); maps (subscriptions, topic aliases, inbound QoS 2 ids) and
// the session queue are allocated on first use. BenchmarkIdleConnMemory
// measured 1541 B of heap per connected 3.1.1 client with one
// subscription, against 694 B for netpoll alone in the same run (so about
// 850 B are this package's: conn, session, index entry, filter). Decoders are pooled
// (sync.Pool, in practice one per event loop): codec/mqtt's Decoder keeps
// no state between packets but Version, which conn keeps.
//
// # Benchmarks
//
//	go test -run '^$' -bench . ./server/mqtt/
//
// BenchmarkFanout: one QoS 0 publish delivered and encoded for 1, 10, 100
// subscribers allocates nothing (0 allocs/op), against the hub's
// match-and-deliver to no-op subscribers in the same run (about 250 ns per
// subscriber on top, 2 shared CPUs). BenchmarkInbound: one 128-byte
// PUBLISH through OnData costs 2 allocations at QoS 0 (the owned message:
// its bytes and its struct) and 5 at QoS 1 (plus the acknowledgement's
// ackWait, its store callback and its hop to the connection).
//
// Load, `bin/robustmq bench mqtt` against a segment-engine node with
// mosquitto 2.0 run by the same command in the same minute (perf/README.md,
// "MQTT", has the commands, the table and the spread): 2 shared CPUs,
// load 1.6-3, 64-byte payloads, 3 s runs, medians of 3. QoS 0 1 -> 1 1.12 M
// msg/s delivered and 16 -> 1 1.17 M, nothing dropped (mosquitto 0.17 M,
// 0.20 M); QoS 1 1 -> 1 0.51 M, 16 -> 1 0.44 M, 1 -> 16 1.87 M
// deliveries/s (4-11x mosquitto); QoS 1 16 -> 1 paced at 200 k/s p99
// 7.5 ms, at 10 k/s 0.26 ms (mosquitto 0.39 ms), 0 lost. What got there:
// the store appends of one read batched (see Delivery), one clock read
// per read, netpoll's 8 KiB TCP reads, and Server.endBatch flushing the
// subscribers a read fed before the loop's next read (netpoll.RunNow):
// with a Do alone a subscriber got one flush per loop turn, after every
// ready publisher's read, and its queue dropped the rest of a QoS 0
// flood. Failed appends are no longer logged one by one.
//
// # Locks
//
// Order: a sessions stripe mutex (the client id table, 64 stripes by
// hash) -> session.mu -> the topic index's shard locks. Deliver runs after the index released its locks
// and takes only session.mu. wheel.mu is a leaf.
//
// # Delivery and acknowledgement
//
//   - Inbound QoS 1: PUBACK after the hub's append to the topic's shard
//     completed (DurabilitySync; memory engine: in memory). The appends
//     of the PUBLISHes decoded from one read go to the store together
//     when OnData ends (message.Batch: one AppendAsync per run of
//     messages to one topic at one durability); their delivery does not
//     wait for that. QoS 2: the
//     packet id is remembered in the session, PUBREC after the append,
//     PUBCOMP on PUBREL; a duplicate PUBLISH with a remembered id is
//     answered with PUBREC and not published again [MQTT-4.3.3-10]. A failed
//     append answers 0x80 (5.0) or closes a 3.x connection unacknowledged.
//     More than Options.ReceiveMax unacknowledged inbound QoS 1/2 publishes
//     end the connection with 0x93 Receive Maximum exceeded.
//   - Outbound: every matching subscription queues the message in its
//     session (bounded by MaxQueued, see Flow control); flush sends while
//     the in-flight window (client's Receive Maximum, capped by MaxInflight)
//     and OutboundHigh allow. QoS is the minimum of publication and
//     subscription. Unacknowledged QoS 1/2 messages are resent with DUP (or
//     their PUBREL) when the session reconnects [MQTT-4.4.0-1]. A packet over
//     the client's Maximum Packet Size is not sent and counts as delivered
//     [MQTT-3.1.2-25]. Offline sessions queue QoS 1/2 and drop QoS 0.
//   - Shared subscriptions ($share/{group}/{filter}, also accepted from
//     3.x clients): the topic index picks one member per message (round
//     robin). A pick whose session is offline passes the message to an
//     online member if there is one; a session that ends (expiry, clean
//     start) hands its queued and unacknowledged group messages to another
//     member (4.8.2).
//   - Delayed publish: a PUBLISH to "$delayed/{seconds}/{topic}" (seconds
//     up to 7 digits) is acknowledged once queued in the hub
//     (message.Hub.PublishAt: memory only until due) and published to
//     {topic} when due; its retain flag is ignored.
//   - Retained messages live in a RetainStore (MemoryRetain by default,
//     saved through Options.State when set: see Persistence).
//     A subscription gets them after its SUBACK, with the retain flag,
//     according to Retain Handling; shared subscriptions never get them.
//     On live delivery the flag is kept only with Retain As Published.
//   - Wills are published when the connection ends without DISCONNECT 0x00:
//     keepalive timeout, protocol error, network loss, DISCONNECT 0x04, or
//     takeover. A Will Delay Interval defers it (cancelled if the session
//     reconnects first); it is published at the latest when the session
//     ends.
//
// # Flow control
//
// A session queue holds MaxQueued messages. When it is full:
//
//   - online session, QoS 1/2 message from an MQTT publisher: the message
//     is queued past the bound and holds its publisher's PUBACK/PUBREC
//     (message.Gate; counted in robustmq_mqtt_acks_held_total) until it
//     leaves the queue for the in-flight window. The publisher's own window
//     (its Receive Maximum towards us, or ours, ReceiveMax) then stops it:
//     a slow subscriber slows its publishers and loses nothing it was sent
//     under an acknowledgement. The excess is bounded by the publishers'
//     windows.
//   - online session, a message nobody waits on (QoS 0, a bridged Kafka
//     record, a retained or delayed message delivered again): the oldest
//     queued message is dropped, unless it is held, then the new one is;
//     counted as robustmq_message_dropped_total{reason="queue_full"}.
//   - offline session: the oldest message is dropped, counted the same way;
//     a session going offline releases what it held and trims its queue to
//     MaxQueued first. This is the offline policy the spec allows; the
//     messages stay in the topic's shard.
//
// A subscriber that takes none of its held messages for HoldTimeout
// (default 10 s: a client that stopped acknowledging) is disconnected with
// 0x97 Quota exceeded (robustmq_mqtt_slow_subscribers_total), which
// releases its publishers.
//
// # Persistence
//
// With Options.State (a StateStore; the broker's is the Meta Service's mqtt
// group) what a restart must not lose is saved, and Server.Restore loads
// it before the listeners open:
//
//   - Persistent sessions (expiry > 0): one record per client id (table
//     's', persist.go) with the expiry, when it went offline, its log name
//     and its subscriptions, saved on CONNECT, SUBSCRIBE, UNSUBSCRIBE and
//     disconnect, deleted when the session ends. SUBACK does not wait for
//     the save (a crash within the write's few ms forgets the change).
//   - Offline messages: a QoS 1/2 message for an offline persistent
//     session is appended to the session's log shard ("$mqtt_session/...",
//     on the hub's store and engine, DurabilitySync), and the publisher's
//     acknowledgement waits for that append and for the session record
//     naming the log (message.Gate). Messages a session holds when it goes
//     offline (queued, in flight) are logged too (not waited on). Once
//     everything logged was delivered and acknowledged the log is emptied;
//     a log no session names is deleted at Restore. After a crash the
//     logged messages are queued again, newest MaxQueued, sent without DUP
//     (a QoS 2 message acknowledged by PUBREC but not PUBCOMP may come
//     twice; inbound QoS 2 packet ids are not saved).
//   - Retained messages (table 'r', except $SYS/ topics): saved on every
//     change; a retained QoS 1/2 PUBLISH is acknowledged after the save.
//   - Wills of persistent sessions: the record carries the attached
//     connection's will, or the delayed will of the offline session and
//     when it is due. After a restart a will whose time passed (or whose
//     session ended) meanwhile is published once every session is back;
//     the will of a connection the broker's stop cut is treated as if
//     the connection closed at the restart (published at once, or after
//     its delay unless the client reconnects).
//   - Not saved: wills of clean sessions, delayed publishes (memory until
//     due, documented by the hub), the in-flight state of online sessions
//     (their messages stay in the topic shards).
//
// # Due times (DueStore, due.go)
//
// Without one, the server's own timers end offline sessions and publish
// delayed wills. When the StateStore is a DueStore (the broker's, on the
// Meta Service) every session save also sets the session's due times, in
// the same atomic write: its end and its delayed will, each at a time
// (offline: when it left plus the interval) or, while a connection is
// attached, "this long after this broker is lost" (expiry; will delay,
// capped by the expiry). The server arms no timer: the store's scheduler
// (the metadata leader's controller) hands each due time, once it
// passes, to the broker holding the session, which calls FireDue — a time
// the session no longer has (it reconnected) is ignored and the session
// saved again — or, when that broker is lost, to another broker, which
// acts on the stored record with FireRecord (ends the session, or takes
// its will out, and publishes the will) under a compare, so a will goes
// out once. Restore loads only the sessions the store says are this
// broker's (DueStore.Owned).
//
// A DueStore also keeps which broker owns each session: the first save
// after a CONNECT takes it (the later CONNECT wins when two brokers race)
// and the broker that held it is told to Release it (an attached
// connection there gets 0x8E Session taken over); any other save of a
// broker that lost the session fails with ErrNotOwner, and the server
// gives the session up, so a stale broker never overwrites the owner's
// record. The new owner starts the session afresh: subscriptions and
// queued messages do not move between brokers.
//
// # $SYS and inspection
//
// $SYS/brokers/{node}/... topics (sys.go) are published as retained QoS 0
// messages every system_topic_interval_ms; clients may subscribe to them
// but not publish there (5.0: PUBACK 0x87; counted as sys_topic drops).
// inspect.go takes snapshots of clients, sessions, subscriptions and
// retained messages for the admin API, and kicks clients (0x98).
//
// # Sessions
//
// Sessions live in memory (sessions, session.go), saved as above. Clean start drops the old
// state. Session Expiry Interval (5.0, capped by MaxSessionExpiry; 3.x
// persistent sessions get V3SessionExpiry) keeps a session after its
// connection closed; Session Present tells the client. A CONNECT with a
// client id already connected takes the session over: the old connection
// gets DISCONNECT 0x8E Session taken over (5.0) and is closed.
//
// # Errors
//
// Decode errors follow the codec's Error.Action: CONNACK with the code and
// close during CONNECT, DISCONNECT with the reason code in 5.0 afterwards,
// plain close in 3.x. Violations only the server can see (topic alias
// unknown or over the maximum, receive maximum, session expiry at
// DISCONNECT after 0, AUTH without a method, payload format) do the same
// through conn.fail.
//
// # Enhanced authentication
//
// Options.Auth (an Authenticator) answers to one Authentication Method: a
// CONNECT naming it starts the AUTH 0x18 exchange (other packets meanwhile
// are a Protocol Error, answered with CONNACK 0x82), which ends in CONNACK
// 0x00 or 0x87; AUTH 0x19 re-authenticates a connection that used it. With
// no Authenticator (the broker's default) or another method the CONNECT gets
// CONNACK 0x8C Bad authentication method.
//
// # Metrics
//
//	robustmq_mqtt_connections_total           connections opened
//	robustmq_mqtt_connects_total              CONNECTs accepted
//	robustmq_mqtt_keepalive_timeouts_total    keepalive and connect timeouts
//	robustmq_mqtt_wills_published_total
//	robustmq_mqtt_dropped_total{reason}       offline | client_max_packet_size | expired | sys_topic
//	robustmq_mqtt_acks_held_total             publisher acknowledgements held by a full queue
//	robustmq_mqtt_kicked_total                administrative kicks (inspect.go)
//	robustmq_mqtt_state_errors_total          failed saves, log appends and restores (persist.go)
//	robustmq_mqtt_slow_subscribers_total      subscribers disconnected after HoldTimeout
//
// plus the hub's robustmq_message_* (queue_full drops are counted there).
package mqtt
