package node

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"robustmq/server/config"
)

// NewLogger builds the node's logger from [log]: text or JSON, the configured level, written to
// stdout, stderr or <log_path>/robustmq.log. The returned closer closes the file, if one was opened.
func NewLogger(c config.LogConfig, stdout, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	var w io.Writer
	var closer io.Closer = io.NopCloser(nil)
	switch c.Output {
	case "stderr":
		w = stderr
	case "file":
		if err := os.MkdirAll(c.LogPath, 0o755); err != nil {
			return nil, nil, fmt.Errorf("node: log.log_path: %w", err)
		}
		f, err := os.OpenFile(c.File(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("node: log.log_path: %w", err)
		}
		w, closer = f, f
	default: // "stdout", validated by config
		w = stdout
	}
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h), closer, nil
}
