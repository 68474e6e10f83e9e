package mqtt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ConnOptions configures an idle-connections run.
type ConnOptions struct {
	Addr  string // broker host:port (default 127.0.0.1:1883)
	Count int    // connections in total (default 1000)
	// Procs spreads Count over this many child processes (one process may
	// hold at most 20,000 files); <= 1 holds them in this process.
	Procs int
	// Child is the command line that runs one child holding n connections
	// and speaking the protocol of RunConnChild; required when Procs > 1.
	Child func(n int) *exec.Cmd
	// Hold keeps the connections open this long after the memory reading
	// (default 0).
	Hold time.Duration
	// MetricsURL is the server's Prometheus endpoint
	// (http://host:port/metrics); empty: no memory reading.
	MetricsURL     string
	ConnectTimeout time.Duration // per connection (default 10s); also bounds a child's start
	// SessionExpiry > 0 connects 5.0 clients with persistent sessions
	// (Clean Start 0, this Session Expiry Interval in s); 0: 3.1.1 clean
	// sessions. With MetricsURL the run also times the broker's session
	// saves (robustmq_mqtt_state_writes_total).
	SessionExpiry uint32
}

// ConnResult is one idle-connections run.
type ConnResult struct {
	Count     int           `json:"count"`
	Procs     int           `json:"procs"`
	Connected int           `json:"connected"`
	Elapsed   time.Duration `json:"connect_elapsed_ns"` // until every connection had its CONNACK
	MemBefore float64       `json:"mem_before_bytes"`   // server RSS before connecting; 0 without MetricsURL
	MemAfter  float64       `json:"mem_after_bytes"`    // server RSS with every connection held
	// Saved is, with SessionExpiry and MetricsURL, when the broker had
	// written one session save per connection to the Meta Service.
	Saved time.Duration `json:"saved_elapsed_ns,omitempty"`
	Err   string        `json:"error,omitempty"`
}

// PerConn is the server memory each connection cost, in bytes.
func (r ConnResult) PerConn() float64 {
	if r.Connected == 0 || r.MemAfter == 0 {
		return 0
	}
	return (r.MemAfter - r.MemBefore) / float64(r.Connected)
}

// String is the summary line.
func (r ConnResult) String() string {
	s := "mqtt conn count=" + strconv.Itoa(r.Count) + " procs=" + strconv.Itoa(r.Procs) +
		" connected=" + strconv.Itoa(r.Connected) +
		" connect_rate=" + strconv.FormatFloat(perSec(uint64(r.Connected), r.Elapsed), 'f', 0, 64) + "/s" +
		" mem_before=" + strconv.FormatFloat(r.MemBefore/(1<<20), 'f', 1, 64) + "MiB" +
		" mem_after=" + strconv.FormatFloat(r.MemAfter/(1<<20), 'f', 1, 64) + "MiB" +
		" per_conn=" + strconv.FormatFloat(r.PerConn()/1024, 'f', 2, 64) + "KiB"
	if r.Saved > 0 {
		s += " saved_in=" + r.Saved.Round(time.Millisecond).String() +
			" saves_rate=" + strconv.FormatFloat(perSec(uint64(r.Connected), r.Saved), 'f', 0, 64) + "/s"
	}
	if r.Err != "" {
		s += " error=" + strconv.Quote(r.Err)
	}
	return s
}

// RunConns opens o.Count idle connections (in this process or in o.Procs
// children), reads the server's memory with all of them held, keeps them
// o.Hold and closes them.
func RunConns(ctx context.Context, o ConnOptions) (ConnResult, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:1883"
	}
	o.Count = cmp0(o.Count, 1000)
	o.Procs = max(o.Procs, 1)
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Procs > 1 && o.Child == nil {
		return ConnResult{}, errors.New("bench/mqtt: conn: procs > 1 without a child command")
	}
	r := ConnResult{Count: o.Count, Procs: o.Procs}
	var err error
	var writes0 float64
	if o.MetricsURL != "" {
		if r.MemBefore, err = metric(ctx, o.MetricsURL, residentMetric); err != nil {
			return r, err
		}
		if o.SessionExpiry > 0 {
			if writes0, err = metric(ctx, o.MetricsURL, stateWritesMetric); err != nil {
				return r, err
			}
		}
	}
	start := time.Now()
	var release func()
	if o.Procs == 1 {
		var cs []*client
		cs, err = holdConns(o.Addr, "bench-conn-"+strconv.FormatInt(start.UnixNano()%1e9, 36), o.Count, o.SessionExpiry, o.ConnectTimeout)
		r.Connected = len(cs)
		release = func() { closeClients(cs) }
	} else {
		r.Connected, release, err = startChildren(o)
	}
	r.Elapsed = time.Since(start)
	defer release()
	if err != nil {
		r.Err = err.Error()
	}
	if o.MetricsURL != "" && o.SessionExpiry > 0 {
		if r.Saved, err = waitSaved(ctx, o.MetricsURL, writes0+float64(r.Connected), start); err != nil {
			return r, err
		}
	}
	if o.MetricsURL != "" {
		if r.MemAfter, err = metric(ctx, o.MetricsURL, residentMetric); err != nil {
			return r, err
		}
	}
	select {
	case <-time.After(o.Hold):
	case <-ctx.Done():
	}
	return r, nil
}

// holdConns opens n connections named prefix-i; on failure it keeps those
// it opened and returns the first error.
func holdConns(addr, prefix string, n int, expiry uint32, timeout time.Duration) ([]*client, error) {
	cs := make([]*client, n)
	err := parallel(n, func(i int) error {
		c, err := dialSession(addr, prefix+"-"+strconv.Itoa(i), expiry, timeout)
		cs[i] = c
		return err
	})
	open := cs[:0]
	for _, c := range cs {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, err
}

func closeClients(cs []*client) {
	for _, c := range cs {
		c.nc.Close()
	}
}

// RunConnChild is a child's side: it opens n connections, writes
// "ready <connected>\n" (and "error <quoted>\n" first on a failure) to out,
// and holds them until in ends (the parent closed it) or ctx ends.
func RunConnChild(ctx context.Context, addr string, n int, expiry uint32, in io.Reader, out io.Writer) error {
	cs, err := holdConns(addr, "bench-conn-"+strconv.Itoa(os.Getpid()), n, expiry, 10*time.Second)
	defer closeClients(cs)
	if err != nil {
		fmt.Fprintf(out, "error %s\n", strconv.Quote(err.Error()))
	}
	fmt.Fprintf(out, "ready %d\n", len(cs))
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, in)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}

// startChildren starts o.Procs children splitting o.Count and waits for
// each to report ready. release closes their stdin and waits for them.
func startChildren(o ConnOptions) (connected int, release func(), err error) {
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
	}
	var children []child
	release = func() {
		for _, c := range children {
			c.stdin.Close()
		}
		for _, c := range children {
			_ = c.cmd.Wait()
		}
	}
	var mu sync.Mutex
	var fe firstErr
	var wg sync.WaitGroup
	for i := range o.Procs {
		n := o.Count / o.Procs
		if i < o.Count%o.Procs {
			n++
		}
		cmd := o.Child(n)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return connected, release, fmt.Errorf("bench/mqtt: conn: child %d: %w", i, err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return connected, release, fmt.Errorf("bench/mqtt: conn: child %d: %w", i, err)
		}
		if err := cmd.Start(); err != nil {
			return connected, release, fmt.Errorf("bench/mqtt: conn: start child %d (%s): %w", i, cmd.Path, err)
		}
		children = append(children, child{cmd, stdin})
		wg.Go(func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				k, v, _ := strings.Cut(sc.Text(), " ")
				switch k {
				case "error":
					msg, _ := strconv.Unquote(v)
					fe.set(fmt.Errorf("bench/mqtt: conn: child %d: %s", i, msg))
				case "ready":
					m, _ := strconv.Atoi(v)
					mu.Lock()
					connected += m
					mu.Unlock()
					go func() { _, _ = io.Copy(io.Discard, stdout) }() // drain until the child exits
					return
				}
			}
			fe.set(fmt.Errorf("bench/mqtt: conn: child %d ended before it was ready", i))
		})
	}
	wg.Wait()
	return connected, release, fe.err
}

// Metrics the run reads from the server.
const (
	residentMetric    = "process_resident_memory_bytes"
	stateWritesMetric = "robustmq_mqtt_state_writes_total"
)

// savedWait bounds how long a run waits for the broker's session saves.
const savedWait = 60 * time.Second

// waitSaved polls the server's state writes until they reach want and
// returns the time since start.
func waitSaved(ctx context.Context, url string, want float64, start time.Time) (time.Duration, error) {
	for deadline := time.Now().Add(savedWait); ; {
		n, err := metric(ctx, url, stateWritesMetric)
		if err != nil || n >= want {
			return time.Since(start), err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("bench/mqtt: conn: %s %.0f after %v; want %.0f", stateWritesMetric, n, savedWait, want)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// metric reads the sample of an unlabelled metric from a Prometheus
// endpoint.
func metric(ctx context.Context, url, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("bench/mqtt: metrics %s: %w", url, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("bench/mqtt: metrics %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench/mqtt: metrics %s: status %s", url, res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("bench/mqtt: metrics %s: %s %q: %w", url, name, v, err)
			}
			return f, nil
		}
	}
	return 0, fmt.Errorf("bench/mqtt: metrics %s: no %s", url, name)
}
