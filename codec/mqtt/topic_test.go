package mqtt

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidUTF8(t *testing.T) {
	f := func(in string, want bool) {
		t.Helper()
		if got := ValidUTF8([]byte(in)); got != want {
			t.Fatalf("ValidUTF8(%q) = %v; want %v", in, got, want)
		}
	}
	f("", true)
	f("a/b/c", true)
	f("0123456789abcdef0123456789", true)
	f("ü/€/𝄞", true)
	f("tab\tnew\nline\x01\x7f\u0085", true) // control characters are accepted
	f("\uFFFF\uFDD0", true)                 // non-characters are accepted
	f("\xef\xbb\xbf", true)                 // BOM is kept [MQTT-1.5.4-3]
	f("a\x00", false)                       // [MQTT-1.5.4-2]
	f("0123456\x00", false)                 // NUL at the end of a word
	f("01234567\x0089abcdef", false)        // NUL in the second word
	f(strings.Repeat("a", 31)+"\x00", false)
	f("ü\x00", false)            // NUL after non-ASCII
	f("\xed\xa0\x80", false)     // surrogate U+D800 [MQTT-1.5.4-1]
	f("\xed\xbf\xbf", false)     // surrogate U+DFFF
	f("\xc0\x80", false)         // overlong NUL
	f("\xe0\x80\xaf", false)     // overlong '/'
	f("\xf4\x90\x80\x80", false) // > U+10FFFF
	f("abc\xe2\x82", false)      // truncated
	f("\xff", false)
	f(strings.Repeat("abcdefgh", 4)+"\x80", false)
}

// TestValidUTF8Reference compares the word-at-a-time path with the plain
// definition on random inputs biased to ASCII, NUL and multi-byte edges.
func TestValidUTF8Reference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', '/', 0, 0x7f, 0x80, 0xbf, 0xc2, 0xe0, 0xed, 0xf0, 0xf4, 0xff}
	for i := 0; i < 20000; i++ {
		n := r.IntN(40)
		in := make([]byte, n)
		for j := range in {
			if r.IntN(4) == 0 {
				in[j] = alphabet[r.IntN(len(alphabet))]
			} else {
				in[j] = byte('a' + r.IntN(26))
			}
		}
		want := utf8.Valid(in) && bytes.IndexByte(in, 0) < 0
		if got := ValidUTF8(in); got != want {
			t.Fatalf("ValidUTF8(% x) = %v; want %v", in, got, want)
		}
	}
}

func TestValidTopicName(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		if got := ValidTopicName([]byte(in)); got != want {
			t.Fatalf("ValidTopicName(%q) = %v; want %v", in, got, want)
		}
	}
	f("a", nil)
	f("/", nil)
	f("a//b/", nil)
	f("$SYS/broker", nil)
	f(" ", nil)
	f("", ErrTopicEmpty)       // [MQTT-4.7.3-1]
	f("a/+", ErrTopicWildcard) // [MQTT-3.3.2-2]
	f("a/#", ErrTopicWildcard)
	f("a+b", ErrTopicWildcard)
	f("a\x00", ErrTopicUTF8) // [MQTT-4.7.3-2]
	f("\xed\xa0\x80", ErrTopicUTF8)
}

func TestValidTopicFilter(t *testing.T) {
	f := func(in string, want error) {
		t.Helper()
		if got := ValidTopicFilter([]byte(in)); got != want {
			t.Fatalf("ValidTopicFilter(%q) = %v; want %v", in, got, want)
		}
	}
	for _, ok := range []string{"#", "+", "/", "a/b", "a/#", "+/+", "/+", "+/", "a/+/c/#", "$SYS/#", "sport/tennis/+",
		"$share/g/a/#", "$share/g/#", "$share/g/+", "$share/g//"} {
		f(ok, nil)
	}
	f("", ErrTopicEmpty)
	f("a#", ErrFilterHash) // [MQTT-4.7.1-1]
	f("a/#/b", ErrFilterHash)
	f("#/", ErrFilterHash)
	f("a/b#", ErrFilterHash)
	f("a+", ErrFilterPlus) // [MQTT-4.7.1-2]
	f("+a", ErrFilterPlus)
	f("a/+b/c", ErrFilterPlus)
	f("a\x00", ErrTopicUTF8)
	f("$share/", ErrShareFilter)
	f("$share/g", ErrShareFilter) // [MQTT-4.8.2-2]
	f("$share/g/", ErrShareFilter)
	f("$share//a", ErrShareName) // [MQTT-4.8.2-1]
	f("$share/g+/a", ErrShareName)
	f("$share/#/a", ErrShareName)
	f("$share/g/a#", ErrFilterHash)
	f("$share/\xff/a", ErrTopicUTF8)
	f("$sharex/g/a", nil) // not a shared subscription
}

func TestParseShared(t *testing.T) {
	f := func(in, wantName, wantFilter string, wantOK bool) {
		t.Helper()
		name, filter, ok, err := ParseShared([]byte(in))
		if err != nil || ok != wantOK || string(name) != wantName || string(filter) != wantFilter {
			t.Fatalf("ParseShared(%q) = %q, %q, %v, %v; want %q, %q, %v, nil", in, name, filter, ok, err,
				wantName, wantFilter, wantOK)
		}
	}
	f("$share/g1/a/b/#", "g1", "a/b/#", true)
	f("$share/g/+", "g", "+", true)
	f("$share/g/$share/h/x", "g", "$share/h/x", true)
	f("a/b", "", "", false)
	f("$SYS/x", "", "", false)
}
