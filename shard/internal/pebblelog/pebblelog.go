// Package pebblelog adapts slog to pebble's Logger for the pebble-backed
// stores in shard/ (pebblestore, offsetstore).
package pebblelog

import (
	"fmt"
	"log/slog"
	"os"
)

// ExitCode is the process exit status after a pebble fatal error.
const ExitCode = 70

// Logger sends pebble's log lines to slog: Infof at debug level (pebble is
// chatty about compactions), Errorf at error level. pebble calls Fatalf for
// errors it cannot survive, a failed WAL fsync among them: Logger logs and
// exits the process, it never returns and nothing is retried (after a
// failed fsync the page cache cannot be trusted).
type Logger struct{ L *slog.Logger }

// Infof implements pebble.Logger.
func (p Logger) Infof(format string, args ...any) {
	p.L.Debug("pebble: " + fmt.Sprintf(format, args...))
}

// Errorf implements pebble.Logger.
func (p Logger) Errorf(format string, args ...any) {
	p.L.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf implements pebble.Logger.
func (p Logger) Fatalf(format string, args ...any) {
	p.L.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(ExitCode)
}
