package mqtt_test

import (
	"fmt"

	"robustmq/codec/mqtt"
)

// onData is the shape of a netpoll OnData handler: decode every whole
// packet in, answer into out, report how many bytes were consumed. Bytes
// of a partial packet stay unconsumed and come back with the next read.
func onData(d *mqtt.Decoder, in []byte, out []byte) (consumed int, reply []byte, closeConn bool) {
	for {
		t, n, err := d.Decode(in[consumed:])
		if err == mqtt.ErrIncomplete {
			return consumed, out, false
		}
		if err != nil {
			e := err.(*mqtt.Error)
			fmt.Println("error:", e)
			return consumed, e.AppendReply(out), true
		}
		consumed += n
		switch t {
		case mqtt.CONNECT:
			fmt.Printf("CONNECT %s version %v\n", d.Connect.ClientID, d.Version)
			out = mqtt.AppendConnack(out, d.Version, &mqtt.Connack{})
		case mqtt.PUBLISH:
			p := &d.Publish // views into in: Clone what must outlive this call
			fmt.Printf("PUBLISH %s %q qos %d\n", p.Topic, p.Payload, p.QoS)
			if p.QoS == 1 {
				out = mqtt.AppendAck(out, d.Version, &mqtt.Ack{Type: mqtt.PUBACK, PacketID: p.PacketID})
			}
		}
	}
}

func Example() {
	var wire []byte
	wire = mqtt.AppendConnect(wire, &mqtt.Connect{Version: mqtt.V5, CleanStart: true, ClientID: []byte("c1")})
	wire = mqtt.AppendPublish(wire, mqtt.V5, &mqtt.Publish{Topic: []byte("a/b"), QoS: 1, PacketID: 1, Payload: []byte("hi")})
	wire = mqtt.AppendPublish(wire, mqtt.V5, &mqtt.Publish{Topic: []byte("a/+"), Payload: []byte("bad")})

	d := &mqtt.Decoder{MaxPacketSize: 1 << 20}
	// The first read ends inside the PUBLISH: nothing of it is consumed.
	n, out, _ := onData(d, wire[:20], nil)
	fmt.Println("consumed", n, "reply", len(out), "bytes")
	_, out, closeConn := onData(d, wire[n:], nil)
	fmt.Printf("reply % x, close %v\n", out, closeConn)
	// Output:
	// CONNECT c1 version 5.0
	// consumed 17 reply 5 bytes
	// PUBLISH a/b "hi" qos 1
	// error: mqtt: PUBLISH topic name: topic name contains a wildcard [MQTT-3.3.2-2] (reason 0x90 Topic Name invalid)
	// reply 40 02 00 01 e0 01 90, close true
}
