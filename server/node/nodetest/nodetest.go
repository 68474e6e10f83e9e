// Package nodetest builds the robustmq binary for tests that run real node processes (cmd/robustmq,
// server/meta, ...). It is imported by tests only.
package nodetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
