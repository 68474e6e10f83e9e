package mqtt

import (
	"bytes"
	"errors"
	"strings"
)

// Topic validation errors. They are plain sentinels (no allocation); the
// packet decoders wrap them into an *Error naming the packet and field.
var (
	ErrTopicEmpty    = errors.New("mqtt: topic is empty")                                    // [MQTT-4.7.3-1]
	ErrTopicUTF8     = errors.New("mqtt: topic is not well-formed UTF-8 or contains U+0000") // [MQTT-4.7.3-2]
	ErrTopicWildcard = errors.New("mqtt: topic name contains a wildcard")                    // [MQTT-3.3.2-2]
	ErrFilterHash    = errors.New("mqtt: '#' is not alone in the last level")                // [MQTT-4.7.1-1]
	ErrFilterPlus    = errors.New("mqtt: '+' is not alone in its level")                     // [MQTT-4.7.1-2]
	ErrShareName     = errors.New("mqtt: bad $share name")                                   // [MQTT-4.8.2-1], [MQTT-4.8.2-2]
	ErrShareFilter   = errors.New("mqtt: $share/{name} is not followed by /{filter}")        // [MQTT-4.8.2-2]
)

var sharePrefix = []byte("$share/")

// ValidTopicName checks a Topic Name (PUBLISH, Will Topic, Response
// Topic): at least one byte [MQTT-4.7.3-1], valid UTF-8 without U+0000
// [MQTT-4.7.3-2], no '+' or '#' [MQTT-3.3.2-2]. A 5.0 PUBLISH may carry an
// empty name with a Topic Alias; the PUBLISH decoder handles that case.
func ValidTopicName(b []byte) error {
	if len(b) == 0 {
		return ErrTopicEmpty
	}
	if bytes.IndexByte(b, '+') >= 0 || bytes.IndexByte(b, '#') >= 0 {
		return ErrTopicWildcard
	}
	if !ValidUTF8(b) {
		return ErrTopicUTF8
	}
	return nil
}

// ValidTopicFilter checks a Topic Filter (SUBSCRIBE, UNSUBSCRIBE): at
// least one byte, valid UTF-8 without U+0000, '#' only as the whole last
// level [MQTT-4.7.1-1], '+' only as a whole level [MQTT-4.7.1-2], and a
// "$share/" filter in the shape ParseShared accepts.
func ValidTopicFilter(b []byte) error {
	if _, _, ok, err := ParseShared(b); ok || err != nil {
		return err
	}
	return validPlainFilter(b)
}

func validPlainFilter(b []byte) error {
	if len(b) == 0 {
		return ErrTopicEmpty
	}
	if err := ValidWildcards(b); err != nil {
		return err
	}
	if !ValidUTF8(b) {
		return ErrTopicUTF8
	}
	return nil
}

// ValidWildcards checks only where a filter's wildcards stand: '#' as the
// whole last level [MQTT-4.7.1-1], '+' as a whole level [MQTT-4.7.1-2].
// It is the one place of that rule; server/message/topic uses it for the
// canonical filters of every protocol.
func ValidWildcards(b []byte) error {
	for i, c := range b {
		switch c {
		case '#':
			if i != len(b)-1 || (i > 0 && b[i-1] != '/') {
				return ErrFilterHash
			}
		case '+':
			if (i > 0 && b[i-1] != '/') || (i < len(b)-1 && b[i+1] != '/') {
				return ErrFilterPlus
			}
		}
	}
	return nil
}

// ValidShareName checks a shared subscription's name: at least one
// character, no '/', '+' or '#' [MQTT-4.8.2-1] (the caller split at '/').
func ValidShareName(name []byte) error {
	if len(name) == 0 || bytes.IndexByte(name, '+') >= 0 || bytes.IndexByte(name, '#') >= 0 {
		return ErrShareName
	}
	return nil
}

// ParseShared splits a shared subscription filter "$share/{name}/{filter}"
// (5.0 spec 4.8.2). ok is false, with a nil error, for a filter that does
// not start with "$share/". The name must be at least one character and
// must not contain '/', '+' or '#' [MQTT-4.8.2-1]; it must be followed by
// '/' and a valid topic filter [MQTT-4.8.2-2]. name and filter alias b.
func ParseShared(b []byte) (name, filter []byte, ok bool, err error) {
	if !bytes.HasPrefix(b, sharePrefix) {
		return nil, nil, false, nil
	}
	rest := b[len(sharePrefix):]
	i := bytes.IndexByte(rest, '/')
	if i < 0 {
		return nil, nil, true, ErrShareFilter
	}
	name, filter = rest[:i], rest[i+1:]
	if err := ValidShareName(name); err != nil {
		return nil, nil, true, err
	}
	if len(filter) == 0 {
		return nil, nil, true, ErrShareFilter
	}
	if err := validPlainFilter(filter); err != nil {
		return nil, nil, true, err
	}
	if !ValidUTF8(name) {
		return nil, nil, true, ErrTopicUTF8
	}
	return name, filter, true, nil
}

// ruleOf is the normative statement a topic error breaks.
func ruleOf(err error) string {
	switch err {
	case ErrTopicEmpty:
		return "MQTT-4.7.3-1"
	case ErrTopicUTF8:
		return "MQTT-1.5.4-1"
	case ErrTopicWildcard:
		return "MQTT-3.3.2-2"
	case ErrFilterHash:
		return "MQTT-4.7.1-1"
	case ErrFilterPlus:
		return "MQTT-4.7.1-2"
	case ErrShareName:
		return "MQTT-4.8.2-1"
	case ErrShareFilter:
		return "MQTT-4.8.2-2"
	}
	return ""
}

// msg is a topic sentinel's text without the package prefix, for an
// *Error that adds its own.
func msg(err error) string { return strings.TrimPrefix(err.Error(), "mqtt: ") }
