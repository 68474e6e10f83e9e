// Command gen reads the API description (messages.def) and writes the Go
// codec for it: one struct per message and nested struct, with AppendTo and
// ReadFrom covering every version through version conditions, the API table
// and the request/response constructors. Usage:
//
//	go run ./internal/gen messages.def generated.go
package main

import (
	"bufio"
	"fmt"
	"go/format"
	"os"
	"strconv"
	"strings"
)

type field struct {
	name     string
	typ      string // scalar type, or a struct's short name
	array    bool
	nullable bool
	parts    bool // bytes only: a <Name>Parts [][]byte field may supply the value in pieces (encoding)
	nullFrom int  // nullable from this version; 0 with nullable = always
	vmin     int
	vmax     int // -1: no upper bound
	tag      int // -1: not tagged
	def      string
	goType   string // struct fields: the Go type of the struct
	fields   []*field
	line     int
}

type message struct {
	goName string
	fields []*field
}

type api struct {
	key, min, max, flex int // flex -1: never flexible
	name                string
	req, resp           *message
}

var scalars = map[string]bool{"bool": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uuid": true, "string": true, "bytes": true}

func main() {
	if len(os.Args) != 3 {
		fail(0, "usage: gen messages.def generated.go")
	}
	apis := parse(os.Args[1])
	src := emit(apis)
	out, err := format.Source(src)
	if err != nil {
		_ = os.WriteFile(os.Args[2], src, 0o644)
		fail(0, "gofmt: "+err.Error())
	}
	if err := os.WriteFile(os.Args[2], out, 0o644); err != nil {
		fail(0, err.Error())
	}
}

func fail(line int, msg string) {
	fmt.Fprintf(os.Stderr, "gen: %s:%d: %s\n", os.Args[1], line, msg)
	os.Exit(1)
}

func parse(path string) []*api {
	f, err := os.Open(path)
	if err != nil {
		fail(0, err.Error())
	}
	defer f.Close()
	var apis []*api
	var cur *api
	var msg *message
	// stack[i] holds the field list at indent 2*(i+1).
	type level struct {
		list   *[]*field
		goName string
	}
	var stack []level
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		indent := len(text) - len(strings.TrimLeft(text, " "))
		toks := strings.Fields(text)
		switch {
		case indent == 0 && toks[0] == "api":
			if len(toks) != 5 {
				fail(ln, "want: api <key> <Name> <min>-<max> flexible=<v>|never")
			}
			a := &api{name: toks[2], key: atoi(ln, toks[1]), flex: -1}
			lo, hi, ok := strings.Cut(toks[3], "-")
			if !ok {
				fail(ln, "bad version range "+toks[3])
			}
			a.min, a.max = atoi(ln, lo), atoi(ln, hi)
			fl, ok := strings.CutPrefix(toks[4], "flexible=")
			if !ok {
				fail(ln, "want flexible=")
			}
			if fl != "never" {
				a.flex = atoi(ln, fl)
			}
			apis = append(apis, a)
			cur, msg = a, nil
		case indent == 0 && (toks[0] == "request" || toks[0] == "response"):
			if cur == nil {
				fail(ln, toks[0]+" outside api")
			}
			suffix := "Request"
			if toks[0] == "response" {
				suffix = "Response"
			}
			msg = &message{goName: cur.name + suffix}
			if suffix == "Request" {
				cur.req = msg
			} else {
				cur.resp = msg
			}
			stack = []level{{&msg.fields, msg.goName}}
		default:
			if msg == nil || indent%2 != 0 || indent == 0 {
				fail(ln, "field outside a message or odd indent")
			}
			depth := indent/2 - 1
			if depth >= len(stack) {
				fail(ln, "indented too far")
			}
			stack = stack[:depth+1]
			fd := parseField(ln, toks, stack[depth].goName)
			*stack[depth].list = append(*stack[depth].list, fd)
			if fd.goType != "" {
				stack = append(stack, level{&fd.fields, fd.goType})
			}
		}
	}
	if err := sc.Err(); err != nil {
		fail(0, err.Error())
	}
	for _, a := range apis {
		if a.req == nil || a.resp == nil {
			fail(0, a.name+": needs a request and a response")
		}
	}
	return apis
}

func atoi(ln int, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(ln, "bad number "+s)
	}
	return n
}

func parseField(ln int, toks []string, parent string) *field {
	if len(toks) < 2 {
		fail(ln, "want: <Field> <type> [attr...]")
	}
	fd := &field{name: toks[0], vmax: -1, tag: -1, line: ln}
	t := toks[1]
	if rest, ok := strings.CutPrefix(t, "[]"); ok {
		fd.array, t = true, rest
	}
	fd.typ = t
	if !scalars[t] {
		if t == "" || t[0] < 'A' || t[0] > 'Z' {
			fail(ln, "unknown type "+t)
		}
		fd.goType = parent + t
	}
	for _, a := range toks[2:] {
		switch {
		case a == "nullable":
			fd.nullable = true
		case a == "parts":
			fd.parts = true
		case strings.HasPrefix(a, "nullable="):
			fd.nullable, fd.nullFrom = true, atoi(ln, a[len("nullable="):])
		case strings.HasPrefix(a, "tag="):
			fd.tag = atoi(ln, a[len("tag="):])
		case strings.HasPrefix(a, "default="):
			fd.def = a[len("default="):]
		case strings.HasPrefix(a, "v") && strings.HasSuffix(a, "+"):
			fd.vmin = atoi(ln, a[1:len(a)-1])
		case strings.HasPrefix(a, "v") && strings.Contains(a, "-"):
			lo, hi, _ := strings.Cut(a[1:], "-")
			fd.vmin, fd.vmax = atoi(ln, lo), atoi(ln, hi)
		default:
			fail(ln, "unknown attribute "+a)
		}
	}
	if fd.nullable && !fd.array && t != "string" && t != "bytes" {
		fail(ln, "only strings, bytes and arrays are nullable")
	}
	if fd.parts && (fd.array || t != "bytes" || fd.tag >= 0) {
		fail(ln, "only untagged bytes fields take parts")
	}
	return fd
}

// emitter accumulates the generated file.
type emitter struct {
	b      strings.Builder
	types  []*message      // nested struct types, emitted after their parent
	tagged map[string]bool // struct types sent as tagged fields: they get isDefault
}

func (e *emitter) p(format string, args ...any) { fmt.Fprintf(&e.b, format+"\n", args...) }

func emit(apis []*api) []byte {
	e := &emitter{tagged: map[string]bool{}}
	e.p("// Code generated by codec/kafka/internal/gen from messages.def; DO NOT EDIT.\n")
	e.p("package kafka\n")
	e.p("// apiTable lists every API this codec speaks, by key.")
	e.p("var apiTable = [...]API{")
	for _, a := range apis {
		e.p("{Key: %d, Name: %q, MinVersion: %d, MaxVersion: %d, FlexibleFrom: %d},", a.key, a.name, a.min, a.max, a.flex)
	}
	e.p("}\n")
	e.p("// NewRequest returns an empty request for an API key, or nil for a key the codec does not speak.")
	e.p("func NewRequest(key int16) Message {\nswitch key {")
	for _, a := range apis {
		e.p("case %d:\nreturn new(%s)", a.key, a.req.goName)
	}
	e.p("}\nreturn nil\n}\n")
	e.p("// NewResponse returns an empty response for an API key, or nil for a key the codec does not speak.")
	e.p("func NewResponse(key int16) Message {\nswitch key {")
	for _, a := range apis {
		e.p("case %d:\nreturn new(%s)", a.key, a.resp.goName)
	}
	e.p("}\nreturn nil\n}\n")
	e.p("// ErrorResponse returns a response for key at version whose top-level ErrorCode is code, and")
	e.p("// true; false when the codec does not speak (key, version) or that response has no top-level")
	e.p("// ErrorCode at version (its errors are per topic or partition).")
	e.p("func ErrorResponse(key, version int16, code ErrorCode) (Message, bool) {\nswitch key {")
	for _, a := range apis {
		for _, fd := range a.resp.fields {
			if fd.name != "ErrorCode" || fd.typ != "int16" || fd.array || fd.tag >= 0 {
				continue
			}
			lo, hi := max(a.min, fd.vmin), a.max
			if fd.vmax >= 0 {
				hi = min(hi, fd.vmax)
			}
			cond := fmt.Sprintf("version <= %d", hi)
			if lo > 0 {
				cond = fmt.Sprintf("version >= %d && %s", lo, cond)
			}
			e.p("case %d:\nif %s {\nreturn &%s{ErrorCode: int16(code)}, true\n}", a.key, cond, a.resp.goName)
		}
	}
	e.p("}\nreturn nil, false\n}\n")
	for _, a := range apis {
		for _, m := range []*message{a.req, a.resp} {
			e.message(a, m)
		}
	}
	return []byte(e.b.String())
}

func (e *emitter) message(a *api, m *message) {
	flex := "false"
	if a.flex >= 0 {
		flex = fmt.Sprintf("version >= %d", a.flex)
	}
	e.p("// %s is API key %d, versions %d-%d.", m.goName, a.key, a.min, a.max)
	e.structType(m.goName, m.fields)
	e.p("func (*%s) APIKey() int16 { return %d }\n", m.goName, a.key)
	e.p("// AppendTo appends v encoded at version to dst.")
	e.p("func (v *%s) AppendTo(dst []byte, version int16) []byte { return v.appendTo(dst, version, %s) }\n", m.goName, flex)
	e.p("// ReadFrom decodes v from src at version. Byte slices in v alias src;")
	e.p("// slices already in v are reused.")
	e.p("func (v *%s) ReadFrom(src []byte, version int16) error {", m.goName)
	e.p("r := Reader{src: src}\nv.readFrom(&r, version, %s)", flex)
	e.p("if r.err != nil {\nreturn &DecodeError{Msg: %q, Version: version, Offset: r.errOff, In: r.in, Err: r.err}\n}\nreturn nil\n}\n", m.goName)
	e.methods(m.goName, m.fields)
	for len(e.types) > 0 {
		t := e.types[0]
		e.types = e.types[1:]
		e.structType(t.goName, t.fields)
		e.methods(t.goName, t.fields)
	}
}

func goType(fd *field) string {
	var t string
	switch fd.typ {
	case "uuid":
		t = "[16]byte"
	case "string", "bytes":
		t = "[]byte"
	case "bool", "int8", "int16", "int32", "int64":
		t = fd.typ
	default:
		t = fd.goType
	}
	if fd.array {
		return "[]" + t
	}
	return t
}

func versions(fd *field) string {
	var parts []string
	switch {
	case fd.vmax >= 0:
		parts = append(parts, fmt.Sprintf("v%d-v%d", fd.vmin, fd.vmax))
	case fd.vmin > 0:
		parts = append(parts, fmt.Sprintf("v%d+", fd.vmin))
	}
	if fd.nullable {
		if fd.nullFrom > 0 {
			parts = append(parts, fmt.Sprintf("nullable v%d+ (nil)", fd.nullFrom))
		} else {
			parts = append(parts, "nullable (nil)")
		}
	}
	if fd.tag >= 0 {
		parts = append(parts, fmt.Sprintf("tag %d", fd.tag))
	}
	if fd.def != "" {
		parts = append(parts, "default "+fd.def)
	}
	return strings.Join(parts, ", ")
}

func (e *emitter) structType(name string, fields []*field) {
	e.p("type %s struct {", name)
	for _, fd := range fields {
		if c := versions(fd); c != "" {
			e.p("%s %s // %s", fd.name, goType(fd), c)
		} else {
			e.p("%s %s", fd.name, goType(fd))
		}
		if fd.parts {
			e.p("%sParts [][]byte // encoding only: when not nil, %s is written as these slices, in order", fd.name, fd.name)
		}
		if fd.goType != "" {
			e.types = append(e.types, &message{goName: fd.goType, fields: fd.fields})
		}
	}
	e.p("}\n")
}

// present is the condition under which a non-tagged field is on the wire.
func present(fd *field) string {
	switch {
	case fd.vmax >= 0 && fd.vmin > 0:
		return fmt.Sprintf("version >= %d && version <= %d", fd.vmin, fd.vmax)
	case fd.vmax >= 0:
		return fmt.Sprintf("version <= %d", fd.vmax)
	case fd.vmin > 0:
		return fmt.Sprintf("version >= %d", fd.vmin)
	}
	return ""
}

func nullExpr(fd *field) string {
	switch {
	case !fd.nullable:
		return "false"
	case fd.nullFrom > 0:
		return fmt.Sprintf("version >= %d", fd.nullFrom)
	}
	return "true"
}

var appendScalar = map[string]string{"bool": "AppendBool", "int8": "AppendInt8", "int16": "AppendInt16",
	"int32": "AppendInt32", "int64": "AppendInt64", "uuid": "AppendUUID"}
var readScalar = map[string]string{"bool": "Bool", "int8": "Int8", "int16": "Int16", "int32": "Int32",
	"int64": "Int64", "uuid": "UUID"}
var scalarSize = map[string]int{"bool": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "uuid": 16}

// appendOne returns the statement appending one element x of fd's type.
func appendOne(fd *field, x, null string) string {
	switch fd.typ {
	case "string":
		return fmt.Sprintf("dst = AppendStr(dst, %s, flex, %s)", x, null)
	case "bytes":
		return fmt.Sprintf("dst = AppendBytes(dst, %s, flex, %s)", x, null)
	}
	if f, ok := appendScalar[fd.typ]; ok {
		return fmt.Sprintf("dst = %s(dst, %s)", f, x)
	}
	return fmt.Sprintf("dst = %s.appendTo(dst, version, flex)", x)
}

// readOne returns the statement decoding one element into x.
func readOne(fd *field, x, null string) string {
	switch fd.typ {
	case "string":
		return fmt.Sprintf("%s = r.Str(flex, %s)", x, null)
	case "bytes":
		return fmt.Sprintf("%s = r.Bytes(flex, %s)", x, null)
	}
	if f, ok := readScalar[fd.typ]; ok {
		return fmt.Sprintf("%s = r.%s()", x, f)
	}
	return fmt.Sprintf("%s.readFrom(r, version, flex)", x)
}

func (e *emitter) appendField(fd *field) {
	x := "v." + fd.name
	if fd.parts {
		e.p("if %sParts != nil {\ndst = AppendBytesParts(dst, %sParts, flex)\n} else {\n%s\n}", x, x, appendOne(fd, x, nullExpr(fd)))
		return
	}
	if !fd.array {
		e.p("%s", appendOne(fd, x, nullExpr(fd)))
		return
	}
	null := "false"
	switch ne := nullExpr(fd); ne {
	case "true":
		null = x + " == nil"
	case "false":
	default:
		null = x + " == nil && " + ne
	}
	e.p("dst = AppendArrayLen(dst, len(%s), %s, flex)", x, null)
	if fd.goType != "" {
		e.p("for i := range %s {\n%s\n}", x, appendOne(fd, x+"[i]", "false"))
	} else {
		e.p("for _, x := range %s {\n%s\n}", x, appendOne(fd, "x", "false"))
	}
}

func (e *emitter) readField(fd *field) {
	x := "v." + fd.name
	if !fd.array {
		e.p("%s", readOne(fd, x, nullExpr(fd)))
		return
	}
	min := 1
	if s, ok := scalarSize[fd.typ]; ok {
		min = s
	}
	e.p("if n := r.ArrayLen(flex, %s, %d); n < 0 {\n%s = nil\n} else {", nullExpr(fd), min, x)
	e.p("%s = resize(%s, n)", x, x)
	e.p("for i := range %s {\n%s\n}\n}", x, readOne(fd, x+"[i]", "false"))
}

// defaultStmt sets a field to its value when absent.
func defaultStmt(fd *field) string {
	x := "v." + fd.name
	switch {
	case fd.array:
		return x + " = " + x + "[:0]"
	case fd.typ == "string" || fd.typ == "bytes":
		return x + " = nil"
	case fd.typ == "uuid":
		return x + " = [16]byte{}"
	case fd.goType != "":
		return x + ".Default()"
	case fd.typ == "bool":
		return x + " = false"
	case fd.def != "":
		return x + " = " + fd.def
	}
	return x + " = 0"
}

// nonDefault is the condition under which a tagged field is written.
func nonDefault(fd *field) string {
	x := "v." + fd.name
	switch {
	case fd.array:
		return "len(" + x + ") != 0"
	case fd.typ == "string" && fd.nullable:
		return x + " != nil"
	case fd.typ == "string" || fd.typ == "bytes":
		return "len(" + x + ") != 0"
	case fd.typ == "uuid":
		return x + " != [16]byte{}"
	case fd.goType != "":
		return "!" + x + ".isDefault()"
	case fd.typ == "bool":
		return x
	case fd.def != "":
		return x + " != " + fd.def
	}
	return x + " != 0"
}

func (e *emitter) methods(name string, fields []*field) {
	var tagged []*field
	e.p("func (v *%s) appendTo(dst []byte, version int16, flex bool) []byte {", name)
	for _, fd := range fields {
		if fd.tag >= 0 {
			tagged = append(tagged, fd)
			if fd.goType != "" && !fd.array {
				if !isScalarStruct(fd.fields) {
					fail(fd.line, "a tagged struct may hold scalars only")
				}
				e.tagged[fd.goType] = true
			}
			continue
		}
		if c := present(fd); c != "" {
			e.p("if %s {", c)
			e.appendField(fd)
			e.p("}")
		} else {
			e.appendField(fd)
		}
	}
	e.p("if flex {")
	if len(tagged) == 0 {
		e.p("dst = append(dst, 0)")
	} else {
		e.p("var n uint32")
		for _, fd := range tagged {
			e.p("if %s {\nn++\n}", nonDefault(fd))
		}
		e.p("dst = AppendUvarint(dst, n)")
		for _, fd := range tagged {
			e.p("if %s {\nstart := len(dst)", nonDefault(fd))
			e.appendField(fd)
			e.p("dst = AppendTag(dst, start, %d)\n}", fd.tag)
		}
	}
	e.p("}\nreturn dst\n}\n")

	e.p("func (v *%s) readFrom(r *Reader, version int16, flex bool) {", name)
	for _, fd := range fields {
		if fd.tag >= 0 {
			continue
		}
		if c := present(fd); c != "" {
			e.p("if %s {", c)
			e.readField(fd)
			e.p("} else {\n%s\n}", defaultStmt(fd))
		} else {
			e.readField(fd)
		}
	}
	for _, fd := range tagged {
		e.p("%s", defaultStmt(fd))
	}
	if len(tagged) == 0 {
		e.p("if flex {\nr.skipTags()\n}\nr.failedIn(%q)\n}\n", name)
	} else {
		e.p("if !flex {\nr.failedIn(%q)\nreturn\n}", name)
		e.p("for n := r.tagCount(); n > 0 && r.err == nil; n-- {")
		e.p("tag := r.Uvarint()\nsub := Reader{src: r.Span(int(r.Uvarint()))}\nswitch tag {")
		for _, fd := range tagged {
			e.p("case %d:", fd.tag)
			e.p("r := &sub")
			e.readField(fd)
		}
		e.p("}\nr.failWith(&sub)\n}\nr.failedIn(%q)\n}\n", name)
	}

	e.p("// Default sets every field of v to its value when absent.")
	e.p("func (v *%s) Default() {", name)
	for _, fd := range fields {
		e.p("%s", defaultStmt(fd))
		if fd.parts {
			e.p("v.%sParts = nil", fd.name)
		}
	}
	e.p("}\n")
	if e.tagged[name] {
		var conds []string
		for _, fd := range fields {
			conds = append(conds, nonDefault(fd))
		}
		e.p("func (v *%s) isDefault() bool { return !(%s) }\n", name, strings.Join(conds, " || "))
	}
}

// isScalarStruct reports whether a struct's fields are all scalars, the
// shape of the structs Kafka sends as tagged fields.
func isScalarStruct(fields []*field) bool {
	for _, fd := range fields {
		if fd.array || fd.goType != "" || fd.typ == "string" || fd.typ == "bytes" {
			return false
		}
	}
	return true
}
