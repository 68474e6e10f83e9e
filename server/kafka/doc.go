// Package kafka is the Kafka protocol server: a netpoll.Handler that
// answers Kafka requests (decoded by codec/kafka) over the shard Router,
// with consumer groups coordinated in memory and their offsets kept in a
// shard.OffsetStore.
//
// # Wiring
//
//	opts := kafka.FromConfig(cfg)           // advertised host:port, limits, auto-create, SASL
//	opts.Router, opts.Offsets, opts.Logger = router, offsetStore, log
//	opts.Users = users                      // only with kafka_runtime.sasl.enabled
//	s, err := kafka.New(opts)               // loads topics and groups, starts workers
//	l, err := s.Listen(netpoll.ListenerConfig{
//		Addr: net.JoinHostPort(cfg.BindIP, strconv.Itoa(cfg.KafkaRuntime.TCPPort))})
//	...
//	s.Shutdown(ctx)                         // listeners, then workers, ticker, persister
//
// The Router and the OffsetStore belong to the caller and outlive the
// Server.
//
// # Requests and answers
//
// One file per API key, NN_name.go as in kfake, opens with the versions it
// serves and its behaviour and registers itself in init; New registers
// those ranges in a kafka.Registry and ApiVersions answers from it, so the
// broker advertises exactly what it implements. A request for an API or
// version not registered is answered UNSUPPORTED_VERSION (35), and the
// connection stays open, whenever the codec speaks that version: ApiVersions
// at v0 (which every client reads, with the supported ranges); an API
// whose response has a top-level error code at that version with it
// (kafka.ErrorResponse, everything else zero); and the APIs whose errors
// are only per partition (Produce v0-v2, Fetch v0-v3, ListOffsets v0 and
// v11, OffsetCommit v0-v1, OffsetFetch v0) at their own version with the
// code on every partition the request names (unsupported.go; acks=0
// Produce gets no answer, as always). An API key or version the codec
// does not know closes the connection with ErrUnsupported, as Kafka
// brokers do for every unsupported version: no answer layout is known.
// Closes are logged; all are counted in
// robustmq_kafka_errors_total{code="UNSUPPORTED_VERSION"};
// clients only get there by ignoring ApiVersions. Malformed bodies close the
// connection with the decoder's error; frames over MaxFrameBytes close it
// before they are buffered.
//
// Each request gets a slot in its connection's answer queue in arrival
// order; answers leave strictly in that order even when they complete out
// of order (Produce waiting for its append, a parked Fetch, a JoinGroup
// waiting for the rebalance, work done on a worker). A connection with
// more than MaxInflight unanswered requests is closed.
//
// # Goroutines
//
// Everything per connection (conn, its slots, parked fetches) belongs to
// the connection's handler goroutine (its event loop); other goroutines
// reach it only through netpoll's Conn.Do (conn.later). Nothing blocks a
// loop:
//   - Produce appends with AppendAsync(FailFast) and answers from the done
//     callback (acks=1: DurabilityNone, acks=all: DurabilitySync, acks=0:
//     no answer); a full engine queue answers REQUEST_TIMED_OUT.
//   - Fetch parks on shard.Wait (one waiter per partition) plus one runtime
//     timer for max_wait; the waker queues the re-read on the loop.
//   - Blocking calls (OffsetStore, creating and deleting shards) run on
//     Workers goroutines fed by a bounded queue (WorkQueue); a full queue
//     answers a retriable error (metric robustmq_kafka_work_queue_full_total).
//   - Group sessions expire on one ticker goroutine (every 100 ms), not a
//     goroutine or timer per member.
//   - Group state is written to the OffsetStore by one persister goroutine
//     (group_store.go) and read back by New.
//
// The Server owns its workers, ticker and persister (Shutdown stops and
// waits for them). Lock order: topics.mu and coordinator.mu are never held together;
// producers.mu is a leaf. Router calls are made with none of them held
// except topics.mu around create/delete (the Router's own locks nest
// inside).
//
// # Storage: one Kafka batch, one opaque shard batch
//
// Produce appends each v2 batch with shard AppendBatchAsync as one opaque
// batch (shard.BatchKafkaV2): the bytes exactly as the client sent them,
// Count = last offset delta + 1 offsets, the engine writing the offset it
// assigns into its own copy's base offset field (bytes 0-7, outside the
// CRC, which covers from the attributes on). Shard offsets are therefore
// Kafka offsets, dense, and Latest is the high-water mark. Produce stamps
// the leader epoch (0, also outside the CRC) in the request before the
// append, so the stored bytes are the answer's: Fetch reads with
// ReadBatches, keeps the results (views of engine memory: the segment
// mapping) until the answer is encoded, and hands the views to the codec
// as RecordsParts, which copies each once into the answer. No decoding,
// no re-encoding, no decompression, no intermediate buffer. A fetch starting inside a batch gets the
// whole batch (clients drop records below their fetch offset, as with
// Kafka). Trade-offs (the engine does not look inside a batch):
// OffsetForTimestamp sees every record of a batch at its max timestamp;
// DeleteRecords in the middle of a batch still serves the whole batch.
// Other protocols read Kafka-produced shards with Read, which the node's
// engines decode with their BatchDecoder (server/engine).
//
// Older shards may hold the layout Produce wrote before opaque batches
// (header names frozen: they are on disk), which Fetch still serves:
//
//	offset b      head          Value = the batch as received
//	                            Headers = [{"\x00kb", nil}]
//	offset b+i    continuation  Value = nil (i = 1..n-1)
//	                            Headers = [{"\x00kc", uint32 BE i}]
//
// A head is copied with its base offset and leader epoch set; a fetch
// starting at a continuation is served from its head.
//
// Records without these headers (written by MQTT or another protocol) are
// served to Kafka consumers by building uncompressed v2 batches from them
// at fetch time (buildBatch), so cross-protocol reads need no migration.
//
// Produce validates every batch before appending: magic 2 (v0/v1 message
// sets are refused with CORRUPT_MESSAGE, and Produce v0-v2, which carry
// them, are not advertised), CRC32C, a known codec (compressed batches are
// decompressed once to prove they are readable; the stored bytes stay
// compressed), record count = last offset delta + 1, size at most
// MaxMessageBytes. Transactional batches and transactional InitProducerId
// get TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53): transactions are not
// implemented. Idempotence: see producers.go.
//
// # Topics
//
// The topic table (topics.go) maps a topic to its partition shards,
// named by Options.Naming (default "{topic}_{p}"); New rebuilds it from
// the Router's shards, so topics of persistent engines come back after a
// restart. A topic created over a shard that already exists adopts it
// (how a Kafka topic reads what MQTT wrote, when the broker's Naming maps
// both to one shard). Options.OnProduce hands each produced partition's
// batches to the broker, which delivers them to MQTT subscribers;
// Options.OnDelete hears of deleted topics. A Naming that is also a Pinner
// gives some topics a minimum partition count. Each topic has a random
// UUID v4 id assigned at creation and stored with its configs in the
// OffsetStore (topic_store.go), so ids and configs survive a restart and
// a topic created again gets a new id; Metadata v10+, Fetch v13+, Produce
// v13 and DeleteTopics v6 name topics by id. One broker: it leads every
// partition, replication factor is 1.
//
// # SASL
//
// With Options.SASLMechanisms set (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), a
// connection must authenticate (SaslHandshake v1, then SaslAuthenticate)
// before any request but ApiVersions; users come from Options.Users, a
// UserStore (sasl.go): CheckPassword for PLAIN, stored SCRAM credentials
// (salt, iterations, StoredKey, ServerKey) for SCRAM. It is the one
// interface the shared MQTT/Kafka user table will implement; StaticUsers
// serves tests and static config. TLS listeners (SASL_SSL) need only a
// netpoll TLS ListenerConfig.
//
// # Benchmarks
//
//	go test -run '^$' -bench . -benchmem ./server/kafka/
//
// On the 2-CPU dev box (fakeConn, memory engine), opaque batches, with
// other sessions loading the machine: BenchmarkProduce records=100 (one
// 10 KB batch) 15-45 us and 9 allocations per request (none per record;
// most of the time is the memory engine indexing each record of the
// batch); BenchmarkFetch 3.3-3.6 us for a 64 KiB answer (memory engine;
// 4.2-4.7 us from the segment engine, views of its mapping) and no
// allocation per request (a connection reuses its last fetch plan), against
// 1.2-1.6 us to memcpy it (x_copy 2.7-3.2). With
// the head/continuation layout they were 38 us and 35 us (1.6 GB/s): the
// engine decoded one record per Kafka offset. End-to-end numbers
// (bin/robustmq bench kafka) are in perf/README.md.
//
// # Metrics
//
// robustmq_kafka_requests_total{api}, robustmq_kafka_errors_total{api,code}
// (one per error code answered, per partition where the code is per
// partition), robustmq_kafka_request_duration_seconds{api} (histogram,
// arrival to answer queued for the socket), robustmq_kafka_fetch_parked_total,
// robustmq_kafka_work_queue_full_total, robustmq_kafka_producer_state_full_total,
// robustmq_kafka_produce_loop_wait_seconds (histogram: an append's
// completion to its answer being built on the connection's loop; with the
// segment engine's queue_wait and round histograms it tells storage from
// loop queueing in a Produce's duration).
package kafka
