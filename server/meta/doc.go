// Package meta is the Meta Service role of a node: it runs this node's three raft groups
// (raftgroups: metadata, offset, mqtt) over the gRPC raft transport, serves the Meta API
// (server/pb/meta.proto, service robustmq.meta.v1.MetaService) and the admin routes, registers the
// node and heartbeats, and runs the controller on the metadata leader.
//
// # Standalone and cluster
//
// The members are meta_addrs (broker_id -> host:grpc_port); broker_id must be one of them. With
// one entry the groups are single-member (no transport traffic); with more, every listed node
// bootstraps the same voters and they elect leaders by themselves. Nodes without the meta role
// (roles = ["broker"] or ["engine"]) are not members: they register and heartbeat through
// meta_addrs (server/node's member step; config/cluster/broker-4.toml joins the 3-node cluster). Raft timing comes from
// [meta_runtime]: one tick is raft_tick_ms, heartbeats every tick, elections after 10 ticks; a
// write or linearizable read waits at most raft_write_timeout_sec (then "timed out": no quorum, or
// outcome unknown). Data lives in one pebble DB under data_path/meta.
//
// # Life
//
// New (no I/O) registers the raft transport and MetaService on the inner gRPC server and the admin
// routes. Start opens the DB, starts the groups, adds the peers to the transport, waits until every
// group has a leader, registers this node (metadata group "n/" record) and starts two goroutines:
// the heartbeat loop and the controller loop. Stop ends those two, then (raftgroups' recipe) stops
// the groups, closes the transport, closes the DB. Handlers called outside Start..Stop answer
// Unavailable / 503 (ErrUnavailable).
//
// # Liveness
//
// Every meta node heartbeats every heartbeat_timeout_ms/3; other nodes (brokers, engines) call
// MetaService.Heartbeat themselves. A heartbeat is not a raft write: a follower forwards it to the
// metadata leader, which keeps the last time per node in memory (controller.seen). Every
// heartbeat_check_time_ms the leader's controller marks nodes silent for heartbeat_timeout_ms down
// (KV namespace "meta.node-state": id -> "down", a raft write only on a change) and alive again
// when they beat. A new leader starts with no heartbeat times and gives every node one timeout of
// grace from its takeover.
//
// # Controller (metadata leader only; moves with leadership)
//
// Each round, on the leader only:
//
//  1. Liveness as above.
//  2. Shard reassignment: a shard record (raftgroups.Shard, "s/" + shard name, holder node first)
//     held by a node marked down or no longer registered moves to the alive node with role
//     "engine" that holds the fewest shards (ties: lowest id). Skipped when step 1 failed.
//  3. Due MQTT entries (session expiry, delayed wills): the mqtt group's tables client.TableDue
//     ("d") and client.TableFired ("f"), formats frozen in server/meta/client/due.go. The broker
//     holding a session writes its due entries (key kind 'e' or 'w' | client id, value a
//     client.Due: at, owner = its node id, lost); the controller hands them to live brokers; a
//     broker polls its own client.FiredPrefix(node) of TableFired, acts (ends the session,
//     publishes the will) and deletes the fired entry. A broker is alive when it is registered,
//     not marked down and has role "broker"; an owner is lost when it is marked down or not
//     registered. For every TableDue entry:
//     - at 0 (nothing runs while the owner lives): when the owner is lost and lost >= 0, the clock
//     starts: at = now + lost, owner and lost kept (lost -1: never);
//     - at > now: nothing;
//     - else it fires: deleted from TableDue and put in TableFired under the target broker
//     (client.FiredKey(target, kind, client id), value the entry's at). The target is the owner
//     while it is an alive broker, else the substitute: the alive brokers sorted by id, index
//     FNV-1a 32 of the client id mod their count, so a client's 'e' and 'w' entries go to the same
//     broker. With no alive broker the entry stays and is due again next round.
//     Then TableFired entries under a node that is not an alive broker move to the substitute
//     chosen the same way (release notices, kind client.DueRelease, are deleted instead: a
//     lost broker holds nothing to give up); an alive broker's entries stay until it deletes
//     them. Every write is one
//     raftgroups transaction that compares the entry with the value read, so a broker's change in
//     between wins (ErrConflict: skipped) and a repeated round changes nothing twice. An entry
//     that does not decode is skipped and counted (robustmq_meta_controller_errors_total, one log
//     line per round); the others are still handled. The controller reads TableDue through three
//     indexes of the mqtt group (raftgroups.Index, declared by every meta node: dueIndexes): by due
//     time, by owner for the entries not running, and the malformed ones; a round costs the
//     entries due (at most 4096 a round) and the owners, not every persistent session (16 due among
//     1M: 2.3 µs against 1.0 s for a listing, BenchmarkDueScan). Rounds run every heartbeat_check_time_ms,
//     and earlier when an entry seen not yet due falls due before the next one, so a will
//     delayed by seconds goes out on time; one whose entry is written less than a round before
//     it is due goes out up to a round late.
//  4. Deleted topics: DeleteTopic leaves a tombstone (client.NSDropped, "meta.dropped": topic ->
//     deletion id) and a marker ("meta.gc": topic -> ""); the controller deletes the topic's shard records
//     (names "{topic}_{partition}", shard.Name; client.TopicShard tells a topic's own from those
//     of a topic named "{topic}_…"), then the marker. Engine nodes drop their local shards of
//     tombstoned topics themselves, once per deletion id, acknowledged under client.NSDroppedAck
//     (server/engine's dropped-topic watcher, through Watch). A
//     tombstone stays until a topic of that name is created again; creating a topic whose marker
//     is still there is refused (AlreadyExists, "still being collected").
//
// Every step is idempotent and its marker is removed last, so a leader change or crash between
// steps repeats the step (at least once).
//
// # Watch
//
// MetaService.Watch streams, per group, the replica's applied index (the revision) whenever it
// passed the client's; the first event of a stream says resync unless the client already saw that
// revision. A cache re-reads what it holds of that group on each event, so after a reconnect (to
// any node: applied indexes are the same log on every replica) it is never silently stale.
//
// # Admin routes (RobustMQ paths, admin envelope; lists page through server/admin)
//
//	GET  /api/cluster/raft          per group: group, node, leader, state, term, commit, applied, members
//	GET  /api/cluster/nodes         registered nodes with status alive/down
//	GET  /api/cluster/topic/list    topics
//	GET  /api/cluster/topic/detail  ?topic_name= (also /api/cluster/topic/describe)
//	POST /api/cluster/topic/create  {"topic_name", "partition", "storage_type", "retention_ms", "retention_bytes", "options"}
//	POST /api/cluster/topic/delete  {"topic_name"}
//
// # Running and measuring
//
//	make cluster                           3 nodes of config/cluster/server-{1,2,3}.toml on loopback
//	curl -s 127.0.0.1:58080/api/cluster/raft
//	bin/robustmq bench meta --addr 127.0.0.1:1228,127.0.0.1:2228,127.0.0.1:3228 --op commit --clients 1,16,64,256 --duration 10s
//	bin/robustmq bench meta --addr ... --op commit --offsets 10 ...   10 partitions per commit request (offsets/s)
//
// Offset commits: server/meta/client coalesces concurrent CommitOffsets calls into
// CommitOffsetsBatch calls (at most 8 commit calls in flight per client, no timer), and the API
// proposes a batch's commits with one raftgroups.ProposeBatch, so raft packs them into few entries;
// each commit stays its own atomic command with its own result.
//
// SnapshotEntriesEnv (ROBUSTMQ_META_SNAPSHOT_ENTRIES) sets the raft snapshot interval; the tests
// set it small so a restarted node catches up through a snapshot.
//
// Metrics: robustmq_meta_nodes_down, robustmq_meta_due_handled_total (due entries fired),
// robustmq_meta_due_rerouted_total (fired entries moved off a lost broker),
// robustmq_meta_due_clock_started_total (entries whose clock started because their owner was lost),
// robustmq_meta_topics_collected_total, robustmq_meta_shards_reassigned_total,
// robustmq_meta_controller_errors_total, besides raftgroups' robustmq_raft_* and the transport's.
package meta
