package topic

// set is the subscriptions of one leaf or the members of one group, one
// Entry per subscriber ID. Guarded by the owning shard's mu.
//
// Small sets are scanned; past setIndexMin entries an ID index keeps
// put and del O(1), so a filter with 100k subscribers does not turn a mass
// disconnect quadratic. Removal swaps the last entry in, so order is not
// kept (delivery order between subscribers is not a contract).
type set struct {
	e   []Entry
	idx map[uint64]int32 // ID -> position in e; nil while len(e) <= setIndexMin
}

const setIndexMin = 16

func (s *set) find(id uint64) int {
	if s.idx != nil {
		if i, ok := s.idx[id]; ok {
			return int(i)
		}
		return -1
	}
	for i := range s.e {
		if s.e[i].ID == id {
			return i
		}
	}
	return -1
}

// put adds e or, when e.ID is present, replaces that entry (an MQTT
// re-subscribe replaces the options [MQTT-3.8.4-3]). It reports an add.
func (s *set) put(e Entry) bool {
	if i := s.find(e.ID); i >= 0 {
		s.e[i] = e
		return false
	}
	s.e = append(s.e, e)
	switch {
	case s.idx != nil:
		s.idx[e.ID] = int32(len(s.e) - 1)
	case len(s.e) > setIndexMin:
		s.idx = make(map[uint64]int32, len(s.e))
		for i := range s.e {
			s.idx[s.e[i].ID] = int32(i)
		}
	}
	return true
}

// del removes id and reports whether it was present.
func (s *set) del(id uint64) bool {
	i := s.find(id)
	if i < 0 {
		return false
	}
	last := len(s.e) - 1
	s.e[i] = s.e[last]
	s.e[last] = Entry{} // drop the references for the GC
	s.e = s.e[:last]
	if s.idx != nil {
		delete(s.idx, id)
		if i < last {
			s.idx[s.e[i].ID] = int32(i)
		}
		if len(s.e) <= setIndexMin/2 {
			s.idx = nil
		}
	}
	if c := cap(s.e); c > 64 && len(s.e) < c/4 {
		s.e = append([]Entry(nil), s.e...) // give the memory back after a mass leave
	}
	return true
}
