package mqtt

import (
	"encoding/binary"
	"math/bits"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// headerBytes is the payload prefix every message carries (see doc.go).
const headerBytes = 20

// putHeader writes the payload prefix into p. REQUIRES: len(p) >= headerBytes.
func putHeader(p []byte, pub uint32, seq uint64, sentNs int64) {
	binary.BigEndian.PutUint32(p[0:4], pub)
	binary.BigEndian.PutUint64(p[4:12], seq)
	binary.BigEndian.PutUint64(p[12:20], uint64(sentNs))
}

// newHist is a latency histogram in nanoseconds, 1 ns..60 s, 2 significant
// digits (about 16 KiB: one per subscriber stays small at 1,000 subscribers).
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60e9, 2) }

// account is one subscriber's bookkeeping. It belongs to the subscriber's
// goroutine until Run reads it after that goroutine ended.
type account struct {
	seen []bitset // by publisher id
	recv uint64   // every delivery, duplicates included
	dup  uint64
	bad  uint64 // payloads that do not parse or name no publisher
	hist *hdrhistogram.Histogram
}

// bitset is the sequences received from one publisher.
type bitset struct {
	words []uint64
	uniq  uint64
}

// set adds seq; added is false when it was there already, ok false when
// seq is absurd (no run sends 2^38 messages: the payload is corrupt).
func (s *bitset) set(seq uint64) (added, ok bool) {
	w := seq >> 6
	if w >= 1<<32 {
		return false, false
	}
	for uint64(len(s.words)) <= w {
		s.words = append(s.words, make([]uint64, max(len(s.words), 64))...)
	}
	bit := uint64(1) << (seq & 63)
	if s.words[w]&bit != 0 {
		return false, true
	}
	s.words[w] |= bit
	s.uniq++
	return true, true
}

// has reports whether seq is in s.
func (s *bitset) has(seq uint64) bool {
	w := seq >> 6
	return w < uint64(len(s.words)) && s.words[w]&(1<<(seq&63)) != 0
}

// lostAcked is how many sequences acknowledged by the broker (acked, by
// publisher) this subscriber never received: the messages the broker lost
// after promising them.
func (a *account) lostAcked(acked []bitset) uint64 {
	var n uint64
	for pub := range acked {
		for w, x := range acked[pub].words {
			if w < len(a.seen[pub].words) {
				x &^= a.seen[pub].words[w]
			}
			n += uint64(bits.OnesCount64(x))
		}
	}
	return n
}

func newAccount(pubs int) *account {
	return &account{seen: make([]bitset, pubs), hist: newHist()}
}

// add counts one delivered payload received at nowNs.
func (a *account) add(p []byte, nowNs int64) {
	a.recv++
	if len(p) < headerBytes {
		a.bad++
		return
	}
	pub := binary.BigEndian.Uint32(p[0:4])
	if uint64(pub) >= uint64(len(a.seen)) {
		a.bad++
		return
	}
	seq := binary.BigEndian.Uint64(p[4:12])
	switch added, ok := a.seen[pub].set(seq); {
	case !ok:
		a.bad++
		return
	case !added:
		a.dup++
	}
	_ = a.hist.RecordValue(max(nowNs-int64(binary.BigEndian.Uint64(p[12:20])), 1))
}

// lost is how many of sent[pub] messages (sequences 0..sent-1) were never
// received, summed over publishers. A sequence at or above sent (the
// publisher was stopped while writing it) is not lost and not counted.
func (a *account) lost(sent []uint64) uint64 {
	var n uint64
	for pub, s := range a.seen {
		var got uint64
		for seq := uint64(0); seq < sent[pub]; {
			w := seq >> 6
			if w >= uint64(len(s.words)) {
				break
			}
			if seq&63 == 0 && sent[pub]-seq >= 64 {
				got += uint64(bits.OnesCount64(s.words[w]))
				seq += 64
				continue
			}
			if s.words[w]&(1<<(seq&63)) != 0 {
				got++
			}
			seq++
		}
		n += sent[pub] - got
	}
	return n
}
