package mqtt

import (
	"errors"
	"net"
	"net/netip"

	"robustmq/codec/mqtt"
	"robustmq/server/message/auth"
	"robustmq/server/message/topic"
)

// Access control through Options.Access (server/message/auth), on the
// connection's handler goroutine, from memory:
//
//   - CONNECT, after Options.Login: the store checks the blacklist (client
//     id, user name, peer IP), then JWT / password / anonymous (see the
//     auth package doc). Refusals: blacklisted 0x8A Banned, anonymous not
//     allowed 0x87 Not authorized, bad password or token 0x86 Bad user
//     name or password (3.x: return codes 5, 5 and 4). A will whose topic
//     the ACL denies refuses the CONNECT with 0x87 (3.x: 5), so no client
//     can publish through its will what it may not publish itself.
//   - PUBLISH to a topic the ACL denies (a delayed publish is checked
//     against its real topic): not stored, not delivered. QoS 0 is dropped
//     silently. QoS 1/2: 5.0 answers PUBACK/PUBREC 0x87 Not authorized;
//     3.x has no reason codes, so, as mosquitto does, it acknowledges
//     normally (PUBACK, or PUBREC then PUBCOMP) and drops the message:
//     closing the connection would make the client resend it forever.
//     The refusal is written at once, ahead of acknowledgements of earlier
//     publishes still waiting for their store append (as the invalid
//     payload format refusal is).
//   - SUBSCRIBE to a filter the ACL denies: that filter's SUBACK code is
//     0x87 Not authorized (3.x: 0x80 Failure); the packet's other filters
//     proceed. Shared ($share/{group}/) and exclusive subscriptions are
//     checked on their plain filter.
//
// The connection's principal (the client id as sent in CONNECT, the user
// name, the peer IP) is fixed at CONNECT; ACL changes apply to it at its
// next check.

// authenticate runs Options.Access for cp and keeps the principal; a
// refusal comes with its reason string.
func (c *conn) authenticate(cp *mqtt.Connect) (mqtt.ReasonCode, string) {
	a := c.srv.opts.Access
	if a == nil {
		return mqtt.ReasonSuccess, ""
	}
	p, err := a.Connect(&auth.Login{
		ClientID: string(cp.ClientID), Username: string(cp.Username), HasUsername: cp.HasUsername,
		Password: cp.Password, HasPassword: cp.HasPassword, IP: peerIP(c.nc.RemoteAddr()),
	})
	switch {
	case errors.Is(err, auth.ErrBanned):
		return mqtt.ReasonBanned, err.Error()
	case errors.Is(err, auth.ErrAnonymous):
		return mqtt.ReasonNotAuthorized, err.Error()
	case errors.Is(err, auth.ErrBusy):
		return mqtt.ReasonServerBusy, err.Error()
	case err != nil:
		return mqtt.ReasonBadUserNameOrPassword, err.Error()
	case cp.Will && !p.MayPublish(cp.WillTopic):
		return mqtt.ReasonNotAuthorized, "will topic not authorized"
	}
	c.principal = p
	return mqtt.ReasonSuccess, ""
}

// peerIP is the address of a peer, invalid when it has none (pipes).
func peerIP(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// mayPublish reports whether the client may publish to t (a delayed
// publish's real topic is checked). No allocation.
func (c *conn) mayPublish(t []byte) bool {
	if c.principal == nil {
		return true
	}
	_, t = delayed(t)
	return c.principal.MayPublish(t)
}

// denyPublish answers a refused PUBLISH (see above).
func (c *conn) denyPublish(p *mqtt.Publish) {
	switch {
	case p.QoS == 0:
	case c.version == mqtt.V5:
		c.refuseAck(ackFor(p.QoS), p.PacketID, mqtt.ReasonNotAuthorized)
	default:
		c.refuseAck(ackFor(p.QoS), p.PacketID, 0)
	}
}

// maySubscribe reports whether the client may subscribe to f.
func (c *conn) maySubscribe(f topic.Filter) bool {
	return c.principal == nil || c.principal.MaySubscribe([]byte(f.Path()))
}
