package mqtt

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseLine reads a bench summary line (this package's and bench/kafka's):
// kind is the leading words without '=' ("mqtt", "mqtt conn", "kafka"),
// fields the key=value pairs after them, quoted values unquoted. It is for
// scripts and tests reading the output.
func ParseLine(line string) (kind string, fields map[string]string, err error) {
	fields = map[string]string{}
	rest := strings.TrimSpace(line)
	for rest != "" {
		var word string
		word, rest, _ = strings.Cut(rest, " ")
		k, v, ok := strings.Cut(word, "=")
		switch {
		case !ok && len(fields) == 0:
			kind = strings.TrimSpace(kind + " " + word)
			continue
		case !ok:
			return kind, fields, fmt.Errorf("bench/mqtt: line %q: field %q is not key=value", line, word)
		case strings.HasPrefix(v, `"`):
			q, qerr := strconv.QuotedPrefix(v + " " + rest)
			if qerr != nil {
				return kind, fields, fmt.Errorf("bench/mqtt: line %q: field %s: %w", line, k, qerr)
			}
			rest = strings.TrimSpace(strings.TrimPrefix(v+" "+rest, q))
			v, _ = strconv.Unquote(q)
		}
		fields[k] = v
	}
	if kind == "" {
		return kind, fields, fmt.Errorf("bench/mqtt: line %q: no kind", line)
	}
	return kind, fields, nil
}
