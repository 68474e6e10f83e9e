package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"robustmq/server/config"
)

// Exit codes of Run; see the package doc.
const (
	ExitOK     = 0
	ExitFail   = 1
	ExitConfig = 2
)

// RunOptions configure Run.
type RunOptions struct {
	ConfigPath string   // "" starts on the embedded defaults
	Environ    []string // ROBUST_MQ_SERVER_* overrides, os.Environ form
	Stdout     io.Writer
	Stderr     io.Writer
}

// Run is `robustmq start`: config, logging, the node's steps, then it serves until the first signal
// and stops. It returns the exit code; failures are one line each on Stderr, prefixed "robustmq: ".
func Run(o RunOptions) int {
	startAt := time.Now()
	fail := func(code int, err error) int {
		for line := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintln(o.Stderr, "robustmq: "+line)
		}
		return code
	}

	t0 := time.Now()
	cfg, warns, err := config.Load(o.ConfigPath, o.Environ)
	if err != nil {
		return fail(ExitConfig, err)
	}
	configTook := time.Since(t0)

	t0 = time.Now()
	log, closer, err := NewLogger(cfg.Log, o.Stdout, o.Stderr)
	if err != nil {
		return fail(ExitConfig, err)
	}
	defer closer.Close()
	logTook := time.Since(t0)
	nlog := log.With("component", "node")
	source := o.ConfigPath
	if source == "" {
		source = "embedded defaults"
	}
	nlog.Info("start", "step", "config", "duration", configTook, "source", source, "version", Version)
	for _, w := range warns {
		nlog.Warn(w.String())
	}
	nlog.Info("start", "step", "logging", "duration", logTook, "level", cfg.Log.Level, "format", cfg.Log.Format,
		"output", cfg.Log.Output)

	n, err := New(Options{Config: cfg, Logger: log, StartTime: startAt})
	if err != nil {
		nlog.Error("build failed", "err", err)
		return fail(ExitFail, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer watchSignals(nlog, cancel, cfg.Runtime.ShutdownTimeout())()

	if err := n.Start(ctx); err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrStop) { // a signal cut startup short; rollback was clean
			nlog.Info("stopped during startup", "err", err, "total", time.Since(startAt))
			return ExitOK
		}
		return fail(ExitFail, err) // the node logged it
	}
	<-ctx.Done()

	t0 = time.Now()
	stopCtx, stopCancel := context.WithTimeout(context.Background(), cfg.Runtime.ShutdownTimeout())
	defer stopCancel()
	if err := n.Stop(stopCtx); err != nil {
		nlog.Error("stop failed", "err", err, "duration", time.Since(t0))
		return fail(ExitFail, err)
	}
	nlog.Info("stopped", "duration", time.Since(t0))
	return ExitOK
}

// watchSignals calls cancel on the first SIGINT or SIGTERM and exits the process with ExitFail on the
// second. The returned func stops watching and waits for the watcher goroutine.
func watchSignals(log *slog.Logger, cancel context.CancelFunc, bound time.Duration) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		first := true
		for {
			select {
			case s := <-sigs:
				if !first {
					log.Error("second signal, exiting now", "signal", s.String())
					os.Exit(ExitFail)
				}
				first = false
				log.Info("signal received, stopping", "signal", s.String(), "bound", bound)
				cancel()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-exited
	}
}
