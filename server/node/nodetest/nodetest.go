// Package nodetest builds the robustmq binary for tests that run real node processes (cmd/robustmq,
// server/meta, ...). It is imported by tests only.
package nodetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// BuildBinary builds robustmq/cmd/robustmq into a new temporary directory, with -race when race is set
// (tests pass their own race build tag so a -race test run also exercises the binary under the detector).
// It returns the binary's path and a cleanup that removes the directory.
func BuildBinary(race bool) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "robustmq-bin")
	if err != nil {
		return "", nil, fmt.Errorf("nodetest: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "robustmq")
	args := []string{"build", "-o", path}
	if race {
		args = append(args, "-race")
	}
	build := exec.Command(goTool(), append(args, "robustmq/cmd/robustmq")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("nodetest: build robustmq: %w", err)
	}
	return path, cleanup, nil
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// Ports for real-process tests come from below the kernel's ephemeral range (32768 and up on Linux), so
// that no socket bound to port 0 or opened outbound, in this process or any other, can take one between the
// moment a test picks it and the moment the node binds it. Each test process starts at a pid-derived point
// of the range and walks it, so concurrently running test binaries do not hand out the same ports.
const (
	portLow  = 20000
	portHigh = 32000
)

var (
	portMu   sync.Mutex
	portNext = portLow + (os.Getpid()*7919)%(portHigh-portLow)
)

// FreePorts returns n distinct loopback ports that were free a moment ago and that this process has not
// handed out before.
func FreePorts(n int) ([]int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	out := make([]int, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries > portHigh-portLow {
			return nil, fmt.Errorf("nodetest: no free port in [%d, %d)", portLow, portHigh)
		}
		p := portNext
		portNext++
		if portNext == portHigh {
			portNext = portLow
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, p)
	}
	return out, nil
}

// Main is a TestMain for packages with real-process tests: it builds the binary into *binary (with -race
// when race is set), runs the tests, removes the binary and exits with their code.
func Main(m *testing.M, race bool, binary *string) {
	path, cleanup, err := BuildBinary(race)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binary = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}
