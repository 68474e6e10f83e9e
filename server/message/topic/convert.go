package topic

import "errors"

// Conversion errors. They are plain sentinels so the protocol layers can
// branch on them without allocating (a NATS client gets "-ERR 'Invalid
// Subject'", an MQTT client a Topic Name invalid reason code).
var (
	ErrEmpty       = errors.New("topic: name is empty")
	ErrNUL         = errors.New("topic: name contains U+0000")
	ErrWildcard    = errors.New("topic: topic name contains a wildcard level")
	ErrNATSSubject = errors.New("topic: nats subject has an empty token, whitespace or a control character")
	ErrNATSWild    = errors.New("topic: nats '>' is not the last token")
	ErrUnmappable  = errors.New("topic: nats token contains '/', '+' or '#', which MQTT cannot carry")
	ErrEscape      = errors.New("topic: nats '%' does not start an escape (write '%25' for '%')")
)

// FromMQTT returns the canonical form of an MQTT topic name or filter. The
// canonical form is the MQTT form, so it returns name itself (no copy) after
// checking the two canonical invariants the codec does not state the same
// way: at least one byte, no NUL. Wildcard placement is checked by
// ParseFilter; UTF-8 by codec/mqtt.
func FromMQTT(name []byte) ([]byte, error) {
	if len(name) == 0 {
		return nil, ErrEmpty
	}
	for _, c := range name {
		if c == 0 {
			return nil, ErrNUL
		}
	}
	return name, nil
}

// ToMQTT returns the MQTT form of a canonical topic: the topic itself.
// Every canonical topic is a valid MQTT topic, so it cannot fail.
func ToMQTT(canonical []byte) []byte { return canonical }

// FromNATS appends the canonical form of the NATS publish subject subj to
// dst: '.' becomes '/', escapes are decoded (doc.go, "NATS escapes"). A
// whole-token '*' or '>' is a wildcard and fails with ErrWildcard. It
// allocates only when dst is too small.
func FromNATS(dst, subj []byte) ([]byte, error) { return fromNATS(dst, subj, false) }

// FilterFromNATS is FromNATS for a subscription subject: a whole-token '*'
// becomes '+', a last-token '>' becomes '#'. Subscribe the result with
// Dialect NATS so that '#' keeps the NATS meaning (doc.go).
func FilterFromNATS(dst, subj []byte) ([]byte, error) { return fromNATS(dst, subj, true) }

// ToNATS appends the NATS subject of the canonical topic name t to dst:
// '/' becomes '.', and every byte NATS cannot carry is escaped (doc.go). A
// canonical topic whose level is exactly '+' or '#' fails with ErrWildcard.
func ToNATS(dst, t []byte) ([]byte, error) { return toNATS(dst, t, false) }

// FilterToNATS is ToNATS for a canonical filter: '+' becomes '*' and a last
// '#' becomes '>'. It does not know the filter's dialect; for an MQTT filter
// "a/#" the NATS subject "a.>" no longer matches "a".
func FilterToNATS(dst, f []byte) ([]byte, error) { return toNATS(dst, f, true) }

const hexDigits = "0123456789ABCDEF"

// natsEscaped reports the bytes a NATS token cannot carry verbatim: the
// token separator, whitespace and control characters (the NATS protocol
// line is whitespace-delimited) and '%' itself.
func natsEscaped(c byte) bool {
	return c < 0x20 || c == 0x7f || c == ' ' || c == '.' || c == '%'
}

func toNATS(dst, t []byte, filter bool) ([]byte, error) {
	if len(t) == 0 {
		return dst, ErrEmpty
	}
	start := 0
	for i := 0; i <= len(t); i++ {
		if i < len(t) && t[i] != '/' {
			continue
		}
		lvl := t[start:i]
		if start > 0 {
			dst = append(dst, '.')
		}
		start = i + 1
		switch {
		case len(lvl) == 0:
			dst = append(dst, '%') // an empty level is the token "%"
			continue
		case len(lvl) == 1 && (lvl[0] == '+' || lvl[0] == '#'):
			if !filter {
				return dst, ErrWildcard
			}
			if lvl[0] == '+' {
				dst = append(dst, '*')
			} else {
				dst = append(dst, '>')
			}
			continue
		case len(lvl) == 1 && (lvl[0] == '*' || lvl[0] == '>'):
			// A literal MQTT level "*" or ">" would be a NATS wildcard.
			dst = append(dst, '%', hexDigits[lvl[0]>>4], hexDigits[lvl[0]&15])
			continue
		}
		for _, c := range lvl {
			switch {
			case c == 0:
				return dst, ErrNUL
			case natsEscaped(c):
				dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			default:
				dst = append(dst, c)
			}
		}
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func fromNATS(dst, s []byte, filter bool) ([]byte, error) {
	if len(s) == 0 || len(s) == 1 && s[0] == '%' {
		return dst, ErrEmpty // "%" alone would be the empty topic
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		tok := s[start:i]
		last := i == len(s)
		if start > 0 {
			dst = append(dst, '/')
		}
		start = i + 1
		if len(tok) == 0 {
			return dst, ErrNATSSubject
		}
		if len(tok) == 1 {
			switch tok[0] {
			case '%':
				continue // empty level
			case '*', '>':
				if !filter {
					return dst, ErrWildcard
				}
				if tok[0] == '*' {
					dst = append(dst, '+')
					continue
				}
				if !last {
					return dst, ErrNATSWild
				}
				dst = append(dst, '#')
				continue
			}
		}
		for j := 0; j < len(tok); j++ {
			c := tok[j]
			switch {
			case c <= ' ' || c == 0x7f:
				return dst, ErrNATSSubject
			case c == '/' || c == '+' || c == '#':
				return dst, ErrUnmappable
			case c == '%':
				if j+2 >= len(tok) {
					return dst, ErrEscape
				}
				hi, ok1 := unhex(tok[j+1])
				lo, ok2 := unhex(tok[j+2])
				b := hi<<4 | lo
				// Only canonical escapes decode, so that decoding and
				// encoding are inverse: "%41" is not "A".
				if !ok1 || !ok2 || !(natsEscaped(b) && b != 0 || (len(tok) == 3 && (b == '*' || b == '>'))) {
					return dst, ErrEscape
				}
				dst = append(dst, b)
				j += 2
			default:
				dst = append(dst, c)
			}
		}
	}
	return dst, nil
}
