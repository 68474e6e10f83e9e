package admin

import (
	"fmt"
	"io"
	"net/http"

	"github.com/bytedance/sonic"
)

// envelope is the body of every JSON answer.
type envelope struct {
	Code  int     `json:"code"`
	Data  any     `json:"data"`
	Error *string `json:"error"`
}

// OK writes data in a success envelope with HTTP 200.
func OK(w http.ResponseWriter, data any) {
	write(w, http.StatusOK, envelope{Data: data})
}

// Fail writes msg in a failure envelope with the given HTTP status, which is also its code.
func Fail(w http.ResponseWriter, status int, msg string) {
	write(w, status, envelope{Code: status, Error: &msg})
}

func write(w http.ResponseWriter, status int, e envelope) {
	b, err := sonic.Marshal(e)
	if err != nil {
		// The payload cannot be encoded (a handler bug, e.g. a channel in data): say so in an envelope
		// that always encodes.
		msg := "admin: encode response: " + err.Error()
		status = http.StatusInternalServerError
		b, _ = sonic.Marshal(envelope{Code: status, Error: &msg})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// ReadJSON decodes r's body, at most maxBytes long, into v. On failure it answers r with 400 (or 413
// for a body over maxBytes), naming what, and returns false; the handler then just returns.
func ReadJSON(w http.ResponseWriter, r *http.Request, maxBytes int, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxBytes)+1))
	switch {
	case err != nil:
		Fail(w, http.StatusBadRequest, fmt.Sprintf("admin: %s %s: read body: %v", r.Method, r.URL.Path, err))
	case len(body) > maxBytes:
		Fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("admin: %s %s: body over %d bytes", r.Method, r.URL.Path, maxBytes))
	default:
		if err = sonic.Unmarshal(body, v); err != nil {
			Fail(w, http.StatusBadRequest, fmt.Sprintf("admin: %s %s: body is not the expected JSON: %v", r.Method, r.URL.Path, err))
		}
	}
	return err == nil && len(body) <= maxBytes
}
