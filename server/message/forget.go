package message

import "hash/maphash"

// ForgetTopic drops the hub's entry for persistent topic t: its cached
// shard name and its counters (Topics stops listing it). The next Publish
// to t creates t's shard again (Store.CreateShard), so a protocol that
// deleted that shard behind the hub's back (Kafka DeleteTopics of a
// bridged topic) calls it after the delete. A Publish racing with the
// delete may still fail to store, as any append to a deleted shard does;
// the one after ForgetTopic returns does not. Unknown topics are a no-op.
func (h *Hub) ForgetTopic(t string) {
	// maphash.String hashes as maphash.Bytes does: same stripe as topic().
	st := &h.names[maphash.String(h.seed, t)%nameStripes]
	st.mu.Lock()
	delete(st.m, t)
	st.mu.Unlock()
}
