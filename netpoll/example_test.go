package netpoll_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"

	"robustmq/netpoll"
)

// lines is a protocol of newline-terminated commands: it answers each
// complete line and leaves a partial one for the next read.
type lines struct{}

func (lines) OnOpen(c netpoll.Conn) error { return c.Write([]byte("hello\n")) }

func (lines) OnData(c netpoll.Conn, in []byte) (int, error) {
	consumed := 0
	for {
		i := bytes.IndexByte(in[consumed:], '\n')
		if i < 0 {
			return consumed, nil // keep the partial line
		}
		line := in[consumed : consumed+i] // a view: dies when OnData returns
		if string(line) == "quit" {
			return consumed + i + 1, c.Close(nil)
		}
		// Writes are copied and leave together when OnData returns.
		_ = c.Write([]byte("you said "))
		_ = c.Write(line)
		if err := c.Write([]byte("\n")); err != nil {
			return consumed, err
		}
		consumed += i + 1
	}
}

func (lines) OnClose(netpoll.Conn, error) {}

func Example() {
	l, err := netpoll.Listen(netpoll.ListenerConfig{
		Name:      "example",
		Transport: netpoll.TCP,
		Addr:      "127.0.0.1:0",
	}, lines{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Shutdown(context.Background())

	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Fprint(c, "ping\npo")
	fmt.Fprint(c, "ng\nquit\n")
	r := bufio.NewScanner(c)
	for r.Scan() {
		fmt.Println(r.Text())
	}
	// Output:
	// hello
	// you said ping
	// you said pong
}
