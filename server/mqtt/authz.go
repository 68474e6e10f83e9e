package mqtt

import (
	"errors"
	"net"
	"net/netip"

	"robustmq/codec/mqtt"
	"robustmq/netpoll"
	"robustmq/server/message/auth"
	"robustmq/server/message/topic"
)

// Access control through Options.Access (server/message/auth), on the
// connection's handler goroutine, from memory (except a slow login's
// password check: see "Slow logins" below):
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

// login is what Options.Access checks of cp; its byte slices are cp's.
func (c *conn) login(cp *mqtt.Connect) *auth.Login {
	return &auth.Login{
		ClientID: string(cp.ClientID), Username: string(cp.Username), HasUsername: cp.HasUsername,
		Password: cp.Password, HasPassword: cp.HasPassword, IP: peerIP(c.nc.RemoteAddr()),
	}
}

// authorized turns Options.Access's verdict on cp into a CONNECT result
// and keeps the principal; a refusal comes with its reason string.
func (c *conn) authorized(cp *mqtt.Connect, p *auth.Principal, err error) (mqtt.ReasonCode, string) {
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

// Slow logins. A login that needs the store's slow password check
// (auth.Store.SlowLogin: PBKDF2, a user's first login in this process)
// is checked on the auth workers, not on the event loop: the CONNECT is
// copied, the connection keeps (held) what arrives meanwhile, and the
// verdict comes back through Do, which answers the CONNECT and then
// handles the held packets in order. authWorkers goroutines take jobs
// from a queue of authQueue; a full queue refuses the CONNECT with 0x89
// Server busy, as the store's own budget of slow checks does. At most
// maxHeld bytes are held: more closes the connection.

// slowLogin is the state of a connection whose CONNECT is being checked
// off the loop, or which has input left from the packets held then.
type slowLogin struct {
	held     []byte // owned input not yet handled
	checking bool   // the verdict has not come back
}

const (
	authQueue = 1024
	maxHeld   = 1 << 20
)

var errHeld = errors.New("mqtt: more than 1 MiB sent before the CONNACK")

// authWork runs slow login checks off the event loops until stop closes.
type authWork struct {
	jobs chan func()
	stop chan struct{}
}

func startAuthWork(workers int) *authWork {
	w := &authWork{jobs: make(chan func(), authQueue), stop: make(chan struct{})}
	for range workers {
		go func() {
			for {
				select {
				case j := <-w.jobs:
					j()
				case <-w.stop:
					return
				}
			}
		}()
	}
	return w
}

// submit queues j; false when the queue is full or the workers stopped.
func (w *authWork) submit(j func()) bool {
	select {
	case <-w.stop:
		return false
	default:
	}
	select {
	case w.jobs <- j:
		return true
	default:
		return false
	}
}

// authenticate runs Options.Access on cp: at once, or off the loop for a
// slow login. checking reports the latter: the CONNECT is then answered
// later (resumeConnect) and code means nothing yet.
func (c *conn) authenticate(cp *mqtt.Connect, authReply []byte) (code mqtt.ReasonCode, why string, checking bool) {
	a := c.srv.opts.Access
	if a == nil {
		return mqtt.ReasonSuccess, "", false
	}
	if l := c.login(cp); !a.SlowLogin(l) {
		p, err := a.Connect(l)
		code, why = c.authorized(cp, p, err)
		return code, why, false
	}
	own := cp.Clone()
	l := c.login(&own)
	job := func() {
		p, err := a.Connect(l)
		_ = c.nc.Do(func(netpoll.Conn) { c.resumeConnect(&own, authReply, p, err) }) // not run once closed
	}
	if !c.srv.authWork.submit(job) {
		return mqtt.ReasonServerBusy, "too many logins being checked", false
	}
	c.slow = &slowLogin{checking: true}
	return mqtt.ReasonSuccess, "", true
}

// resumeConnect answers a CONNECT checked off the loop, then handles the
// packets held meanwhile. On the connection's handler goroutine.
func (c *conn) resumeConnect(cp *mqtt.Connect, authReply []byte, p *auth.Principal, verdict error) {
	held := c.slow.held
	c.slow = nil
	err := c.admitChecked(cp, authReply, p, verdict)
	if err == nil && len(held) > 0 {
		var n int
		if n, err = c.srv.feed(c, held); err == nil && n < len(held) {
			c.slow = &slowLogin{held: held[n:]} // an incomplete packet: the rest comes in OnData
		}
	}
	if err != nil {
		_ = c.nc.Close(err)
	}
}

// onHeld is OnData while c.slow is set: it holds in during the check, or
// handles it after the input left from then.
func (s *Server) onHeld(c *conn, in []byte) (int, error) {
	sl := c.slow
	if len(sl.held)+len(in) > maxHeld {
		return len(in), errHeld
	}
	sl.held = append(sl.held, in...)
	if sl.checking {
		return len(in), nil
	}
	c.slow = nil
	n, err := s.feed(c, sl.held)
	if err == nil && n < len(sl.held) {
		c.slow = &slowLogin{held: sl.held[n:]}
	}
	return len(in), err
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
