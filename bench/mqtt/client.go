package mqtt

import (
	"errors"
	"fmt"
	"net"
	"time"

	"robustmq/codec/mqtt"
)

// client is one lean MQTT 3.1.1 connection. It belongs to one goroutine at
// a time except nc.Close, which any goroutine may call to stop it.
type client struct {
	addr string
	nc   net.Conn
	d    mqtt.Decoder
	in   []byte // read buffer; unconsumed bytes are in[r:w]
	r, w int
	out  []byte // frames being built, written by flush
}

// dial connects to addr, sends CONNECT (3.1.1, clean session, no keep
// alive) as id and waits for a CONNACK accepting it, all within timeout.
func dial(addr, id string, timeout time.Duration) (*client, error) {
	return dialSession(addr, id, 0, timeout)
}

// dialSession is dial with a persistent session when expiry > 0: a 5.0
// CONNECT with Clean Start 0 and Session Expiry Interval expiry seconds.
func dialSession(addr, id string, expiry uint32, timeout time.Duration) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("bench/mqtt: dial %s: %w", addr, err)
	}
	cp := mqtt.Connect{Version: mqtt.V311, CleanStart: true, ClientID: []byte(id)}
	if expiry > 0 {
		cp.Version, cp.CleanStart = mqtt.V5, false
		cp.Props.SetUint(mqtt.PropSessionExpiry, expiry)
	}
	c := &client{addr: addr, nc: nc, d: mqtt.Decoder{Role: mqtt.Client, Version: cp.Version}, in: make([]byte, 16<<10)}
	c.out = mqtt.AppendConnect(c.out, &cp)
	_ = nc.SetDeadline(time.Now().Add(timeout))
	if err := c.flush(); err != nil {
		nc.Close()
		return nil, err
	}
	t, err := c.next()
	switch {
	case err != nil:
	case t != mqtt.CONNACK:
		err = fmt.Errorf("bench/mqtt: %s: client %s: got %v, want CONNACK", addr, id, t)
	case c.d.Connack.Code != mqtt.ConnackAccepted:
		err = fmt.Errorf("bench/mqtt: %s: client %s: CONNACK return code %d", addr, id, c.d.Connack.Code)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// subscribe subscribes to filter at qos and waits up to timeout for a
// SUBACK granting it.
func (c *client) subscribe(filter string, qos byte, timeout time.Duration) error {
	c.out = mqtt.AppendSubscribe(c.out, mqtt.V311, &mqtt.Subscribe{PacketID: 1,
		Subs: []mqtt.Subscription{{Filter: []byte(filter), QoS: qos}}})
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.flush(); err != nil {
		return err
	}
	t, err := c.next()
	switch {
	case err != nil:
		return err
	case t != mqtt.SUBACK:
		return fmt.Errorf("bench/mqtt: %s: subscribe %q: got %v, want SUBACK", c.addr, filter, t)
	case len(c.d.Suback.Codes) != 1 || c.d.Suback.Codes[0] >= 0x80:
		return fmt.Errorf("bench/mqtt: %s: subscribe %q: refused (codes %v)", c.addr, filter, c.d.Suback.Codes)
	}
	return nil
}

// flush writes out and empties it.
func (c *client) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	if err != nil {
		return fmt.Errorf("bench/mqtt: write to %s: %w", c.addr, err)
	}
	return nil
}

// next returns the next packet, reading as needed; the packet (in c.d)
// aliases c.in until the following call.
func (c *client) next() (mqtt.Type, error) {
	for {
		t, n, err := c.d.Decode(c.in[c.r:c.w])
		if err == nil {
			c.r += n
			return t, nil
		}
		if !errors.Is(err, mqtt.ErrIncomplete) {
			return 0, fmt.Errorf("bench/mqtt: from %s: %w", c.addr, err)
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
}

// decoded calls f for each whole packet buffered (the packet, in c.d, is a
// view valid during f) and returns when at most a partial one is left.
func (c *client) decoded(f func(mqtt.Type)) error {
	for {
		t, n, err := c.d.Decode(c.in[c.r:c.w])
		if errors.Is(err, mqtt.ErrIncomplete) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bench/mqtt: from %s: %w", c.addr, err)
		}
		c.r += n
		f(t)
	}
}

// fill compacts the read buffer (growing it when one frame fills it) and
// reads once into it.
func (c *client) fill() error {
	if c.r > 0 {
		c.w = copy(c.in, c.in[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.in) {
		c.in = append(c.in, make([]byte, len(c.in))...)
	}
	n, err := c.nc.Read(c.in[c.w:])
	c.w += n
	if n == 0 && err != nil {
		return fmt.Errorf("bench/mqtt: read from %s: %w", c.addr, err)
	}
	return nil
}
