// Package raftgroups runs the Meta Service as three independent etcd raft
// (go.etcd.io/raft/v3 v3.7) groups per node: metadata, offset and mqtt. Each
// group has its own leader, log, state machine and snapshots; all three share
// the node's pebble DB and transport.
//
// # Goroutines and ownership
//
// A Manager owns one goroutine per group (the group loop) and one ticker
// goroutine; Stop ends them and waits. The group loop alone touches its
// raft.RawNode and applies to its state machine. Other goroutines talk to the
// loop through bounded queues (mutex + slice + one-slot signal channel):
//
//   - proposals: Group.Propose enqueues; when Config.MaxPendingProposals
//     proposals are unfinished (queued or in raft) it returns ErrBusy at once
//     (backpressure).
//   - reads: Group.ReadIndex enqueues; full returns ErrBusy.
//   - inbox: Manager.Receive enqueues raft messages from the transport; full
//     (Config.MaxInboxMessages) drops the message (raft retransmits) and
//     counts robustmq_raft_inbox_dropped_total.
//
// Lock order: Group.mu (queues, pending waiters) is never held while calling
// into raft, the state machine or the transport, so a transport may report
// back (Receiver) from inside Send. Storage.mu and kv.mu are leaves.
//
// Metrics (label group): robustmq_raft_proposals_total,
// robustmq_raft_propose_seconds, robustmq_raft_busy_rejections_total
// (ErrBusy), robustmq_raft_inbox_dropped_total,
// robustmq_raft_snapshots_total, robustmq_raft_leader_changes_total.
//
// # The Ready contract
//
// The loop follows etcd raft's doc.go literally, with synchronous storage
// writes (AsyncStorageWrites=false):
//
//  1. rd := rn.Ready()
//  2. Storage.Save(rd.HardState, rd.Entries, rd.Snapshot, rd.MustSync): one
//     pebble batch, committed with pebble.Sync whenever entries, term, vote
//     or a snapshot are in it (a commit-index-only change is not synced, as
//     in etcd). A failed write is fatal for the group: the loop stops, every
//     waiter gets ErrStopped, and nothing more is sent (pebble itself treats
//     a failed WAL fsync as fatal through its logger's Fatalf, which panics).
//  3. If rd.Snapshot is not empty, the state machine restores from it.
//  4. Transport.Send(rd.Messages): only after step 2 returned, with one
//     exception that etcd raft's doc.go (step 2) and the raft thesis
//     (10.2.1) allow: a leader whose HardState term and vote are already on
//     disk sends before step 2, so its followers persist the new entries
//     while it does. Raft counts the leader's own copy only when its
//     self-acknowledgement is stepped at Advance (step 6, after step 2), so
//     an entry is still committed only once it is on a quorum of disks.
//  5. Apply rd.CommittedEntries in order (config changes through
//     rn.ApplyConfChange), notifying local waiters with each command's result.
//  6. rn.Advance(rd), then serve ReadIndex reads whose index is applied and
//     take a snapshot if Config.SnapshotEntries entries were applied since the
//     last one or a membership change was applied.
//
// Because a node acknowledges entries (MsgAppResp, or the leader's
// self-acknowledgement) only after they are synced, a proposal reported
// committed is on a quorum of disks.
//
// # Proposals, forwarding and results
//
// Group.Propose queues the command; the loop drains the queue and packs as
// many commands as fit in Config.MaxEntryBytes into one raft entry (a batch,
// format below). Followers rely on raft's own forwarding (MsgProp to the
// leader, DisableProposalForwarding=false). Each command carries the
// proposer's node id and a proposal id unique to that process (seeded from the
// start time, then incremented), so when any replica applies the entry, the
// proposing replica finds its waiter and hands it the state machine's result.
// A forwarded MsgProp that the transport certainly never handed to the
// leader (queue full, leader down: Receiver.ReportUndelivered) is proposed
// again on the next tick, so a leader crash costs the caller an election,
// not a timeout. A proposal whose fate is unknown (the leader received it
// and then lost leadership, a stream broke mid-write) is not retried, since
// that could apply it twice: the caller gets ErrTimeout after
// Config.ProposeTimeout (default 30 s, "raftgroups: metadata: propose: timed
// out after 30s"), which means "outcome unknown", and may retry. Slow
// proposals (> Config.SlowPropose, default 1 s) are logged at warn. When the
// local raft has no leader (ErrProposalDropped) the loop keeps the batch and
// proposes it again on every tick while any of its waiters still waits.
//
// # Linearizable reads
//
// Group.ReadIndex batches all waiting readers into one raft ReadIndex request
// (forwarded to the leader by raft on followers). When its ReadState arrives
// and the local applied index reaches it, every reader in the batch proceeds
// to read the local state machine. An unanswered request is re-issued every
// election timeout until the readers time out. No leases.
//
// # Membership
//
// Founding members (Config.Peers) bootstrap every group identically: a
// snapshot at index 1, term 1 holding the voters and an empty image, with
// HardState{Term: 1, Commit: 1} (etcd raft's recommended manual bootstrap).
// A node started with Config.Join has no bootstrap; a member adds it with
// Manager.AddMember (one raft ConfChange per group, in creation order) and
// the leader catches it up by snapshot. Raft only restores a snapshot that
// lists the receiving node, so every replica snapshots right after applying
// a membership change. Manager.RemoveMember removes a node the same way.
// Conf change proposals carry proposer(8) | proposal id(8) in
// ConfChange.Context so the proposer's waiter is told when it is applied.
//
// # State machines and restart
//
// State machines are in memory (a map, its keys also in a B-tree for
// ordered prefix listings), deterministic (no clock, no randomness, no
// map iteration order) and fully serialized into raft snapshots every
// Config.SnapshotEntries applied entries; the log is then compacted to
// Config.CompactKeepEntries entries before the snapshot. On restart a group
// restores the state machine from its last snapshot and raft re-delivers the
// committed entries after it (raft.Config.Applied = snapshot index). A
// follower too far behind receives the snapshot (MsgSnap).
//
// # Disk layout (pebble, one DB per node, frozen)
//
//	raft log entry   0x01 | group(1) | 0x01 | index(8, big endian) -> raftpb.Entry (protobuf)
//	hard state       0x01 | group(1) | 0x02                       -> raftpb.HardState (protobuf)
//	snapshot         0x01 | group(1) | 0x03                       -> raftpb.Snapshot (protobuf; Data = state machine image)
//	truncated state  0x01 | group(1) | 0x04                       -> index(8, BE) | term(8, BE)
//
// group is GroupMetadata (1), GroupOffset (2) or GroupMQTT (3). The truncated
// state is the log's dummy entry (the last compacted index and its term); when
// absent the snapshot is the dummy. Stored entries are contiguous and start
// right after the dummy; a compaction deletes entries and moves the dummy in
// one synced batch.
//
// # Entry format (frozen)
//
// The Data of every normal raft entry proposed by this package is a batch:
//
//	+---------+---------------+---------------+---------------------------+
//	| version | proposer(8)BE | count(4) BE   | count × command record    |
//	|  0x01   | node id       |               |                           |
//	+---------+---------------+---------------+---------------------------+
//	command record: proposal id(8, BE) | len uvarint | command(len)
//
// A command is the state machine's own encoding (see kv.go):
//
//	op(1) | fields, every byte string as uvarint length + bytes
//	opPut          0x01 key value
//	opPutIfAbsent  0x02 key value          result: ErrExists if key is present
//	opDelete       0x03 key                result: ErrNotFound if absent
//	opDeletePrefix 0x04 prefix             result: uvarint count deleted
//	opMultiPut     0x05 count uvarint, count × (key value)
//	opTxn          0x06 compares uvarint, compares × (key, 0x00 value | 0x01 (absent)),
//	                    ops uvarint, ops × (0x00 key value (put) | 0x01 key (delete))
//	                                       result: ErrConflict (nothing changed) unless
//	                                       every compare holds; then the ops, in order
//
// # State machine image (snapshot Data, frozen)
//
//	version 0x01 | count uvarint | count × (key value), keys ascending
//
// # Key spaces inside the state machines
//
//	metadata: "n/" node id(8, BE)           -> Node: addr | roles count uvarint | roles | started at ms(8, BE)
//	          "t/" topic name               -> Topic: partitions uvarint | engine | retention ms(8, BE) |
//	                                           retention bytes(8, BE) | options count uvarint |
//	                                           options (key value), keys ascending
//	          "s/" shard name               -> Shard: holder node id(8, BE) | storage data
//	                                           (shard names are shard.Name's "{topic}_{partition}")
//	          "k/" namespace 0x00 key       -> generic KV
//	offset:   "o/" group 0x00 topic 0x00 partition(4, BE) -> offset(8, BE) | metadata
//	mqtt:     kind(1) "/" key               -> opaque value (MQTTKind)
package raftgroups
