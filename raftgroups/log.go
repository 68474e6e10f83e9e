package raftgroups

import (
	"context"
	"fmt"
	"log/slog"
)

// logAdapter lets etcd raft and pebble log through slog. Their Info level maps
// to slog Debug (both are chatty about routine events); Fatal and Panic log at
// Error and panic: pebble calls Fatalf when its WAL cannot be synced, which
// must stop the node rather than keep acking.
type logAdapter struct{ l *slog.Logger }

func (a logAdapter) log(level slog.Level, args ...any) {
	if a.l.Enabled(context.Background(), level) {
		a.l.Log(context.Background(), level, fmt.Sprint(args...))
	}
}

func (a logAdapter) logf(level slog.Level, format string, args ...any) {
	if a.l.Enabled(context.Background(), level) {
		a.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (a logAdapter) Debug(v ...any)              { a.log(slog.LevelDebug, v...) }
func (a logAdapter) Debugf(f string, v ...any)   { a.logf(slog.LevelDebug, f, v...) }
func (a logAdapter) Info(v ...any)               { a.log(slog.LevelDebug, v...) }
func (a logAdapter) Infof(f string, v ...any)    { a.logf(slog.LevelDebug, f, v...) }
func (a logAdapter) Warning(v ...any)            { a.log(slog.LevelWarn, v...) }
func (a logAdapter) Warningf(f string, v ...any) { a.logf(slog.LevelWarn, f, v...) }
func (a logAdapter) Error(v ...any)              { a.log(slog.LevelError, v...) }
func (a logAdapter) Errorf(f string, v ...any)   { a.logf(slog.LevelError, f, v...) }
func (a logAdapter) Fatal(v ...any)              { a.Panic(v...) }
func (a logAdapter) Fatalf(f string, v ...any)   { a.Panicf(f, v...) }
func (a logAdapter) Panic(v ...any)              { s := fmt.Sprint(v...); a.log(slog.LevelError, s); panic(s) }
func (a logAdapter) Panicf(f string, v ...any) {
	s := fmt.Sprintf(f, v...)
	a.log(slog.LevelError, s)
	panic(s)
}
