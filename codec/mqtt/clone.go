package mqtt

import "math/bits"

// Decoded packets alias the input buffer, which netpoll reuses once OnData
// returns. The Clone methods make the one copy a packet needs to outlive
// it: every byte slice is copied into a single new allocation, and the
// reused slices (Props.User, Props.SubIDs, Subs, Filters) are detached
// from the decoder, so the clone shares nothing with it.

// arena hands out copies carved from one allocation.
type arena []byte

func newArena(n int) arena { return make(arena, 0, n) }

// copy returns a copy of b inside a (nil stays nil).
// REQUIRES: a was sized for everything copied into it, so it never grows.
func (a *arena) copy(b []byte) []byte {
	if b == nil {
		return nil
	}
	n := len(*a)
	*a = append(*a, b...)
	return (*a)[n:len(*a):len(*a)]
}

// byteSize is the number of bytes the properties reference.
func (p *Properties) byteSize() int {
	n := 0
	for m := p.present; m != 0; m &= m - 1 {
		if id := PropID(bits.TrailingZeros64(m)); !id.numeric() {
			n += len(p.bin[props[id].slot])
		}
	}
	for _, u := range p.User {
		n += len(u.Key) + len(u.Value)
	}
	return n
}

// cloneInto copies p into q, bytes from a.
func (p *Properties) cloneInto(q *Properties, a *arena) {
	q.present, q.num = p.present, p.num
	q.bin = [binSlots][]byte{}
	for m := p.present; m != 0; m &= m - 1 {
		if id := PropID(bits.TrailingZeros64(m)); !id.numeric() {
			q.bin[props[id].slot] = a.copy(p.bin[props[id].slot])
		}
	}
	q.User, q.SubIDs = nil, nil
	if len(p.User) > 0 {
		q.User = make([]UserProperty, len(p.User))
		for i, u := range p.User {
			q.User[i] = UserProperty{a.copy(u.Key), a.copy(u.Value)}
		}
	}
	if len(p.SubIDs) > 0 {
		q.SubIDs = append([]uint32(nil), p.SubIDs...)
	}
}

// Clone returns a copy of the properties that shares no memory with p.
func (p *Properties) Clone() Properties {
	a := newArena(p.byteSize())
	var q Properties
	p.cloneInto(&q, &a)
	return q
}

// Clone returns a copy of the PUBLISH that shares no memory with p.
func (p *Publish) Clone() Publish {
	a := newArena(len(p.Topic) + len(p.Payload) + p.Props.byteSize())
	q := *p
	q.Topic, q.Payload = a.copy(p.Topic), a.copy(p.Payload)
	p.Props.cloneInto(&q.Props, &a)
	return q
}

// Clone returns a copy of the CONNECT that shares no memory with c.
func (c *Connect) Clone() Connect {
	a := newArena(len(c.ClientID) + len(c.WillTopic) + len(c.WillPayload) + len(c.Username) + len(c.Password) +
		c.Props.byteSize() + c.WillProps.byteSize())
	q := *c
	q.ClientID, q.WillTopic, q.WillPayload = a.copy(c.ClientID), a.copy(c.WillTopic), a.copy(c.WillPayload)
	q.Username, q.Password = a.copy(c.Username), a.copy(c.Password)
	c.Props.cloneInto(&q.Props, &a)
	c.WillProps.cloneInto(&q.WillProps, &a)
	return q
}

// Clone returns a copy of the SUBSCRIBE that shares no memory with s.
func (s *Subscribe) Clone() Subscribe {
	n := s.Props.byteSize()
	for i := range s.Subs {
		n += len(s.Subs[i].Filter)
	}
	a := newArena(n)
	q := Subscribe{PacketID: s.PacketID, Subs: make([]Subscription, len(s.Subs))}
	for i, sub := range s.Subs {
		sub.Filter = a.copy(sub.Filter)
		q.Subs[i] = sub
	}
	s.Props.cloneInto(&q.Props, &a)
	return q
}

// Clone returns a copy of the UNSUBSCRIBE that shares no memory with u.
func (u *Unsubscribe) Clone() Unsubscribe {
	n := u.Props.byteSize()
	for _, f := range u.Filters {
		n += len(f)
	}
	a := newArena(n)
	q := Unsubscribe{PacketID: u.PacketID, Filters: make([][]byte, len(u.Filters))}
	for i, f := range u.Filters {
		q.Filters[i] = a.copy(f)
	}
	u.Props.cloneInto(&q.Props, &a)
	return q
}
