package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// EnvPrefix starts every environment override: ROBUST_MQ_SERVER_<KEY PATH>,
// upper case, "." replaced by "_" (RobustMQ's scheme).
const EnvPrefix = "ROBUST_MQ_SERVER_"

// Sentinels for errors.Is on a KeyError.
var (
	ErrUnknownKey   = errors.New("unknown key")
	ErrType         = errors.New("wrong type")
	ErrValue        = errors.New("invalid value")
	ErrPortConflict = errors.New("port used twice")
)

// KeyError is one problem with one key. Its text is
// "config: <key.path>: <what is wrong>".
type KeyError struct {
	Key  string // dotted path, e.g. "mqtt_runtime.server.tcp_port".
	Msg  string // what is wrong, naming the env variable or file position if any.
	Kind error  // one of the sentinels above.
}

func (e *KeyError) Error() string { return "config: " + e.Key + ": " + e.Msg }

// Unwrap returns the sentinel.
func (e *KeyError) Unwrap() error { return e.Kind }

// Warning is a problem that does not stop the node: a key RobustMQ accepts
// that we do not implement yet, or an env variable with our prefix that
// matches no key.
type Warning struct {
	Key string // dotted key path, or the env variable name.
	Msg string
}

func (w Warning) String() string { return "config: " + w.Key + ": " + w.Msg }

// Load builds the configuration: Default(), then the TOML file at path (if
// path is not ""), then the ROBUST_MQ_SERVER_* variables in environ (in
// os.Environ form, "NAME=value"), then Validate. So env > file > default.
//
// Every error is collected and returned at once as errors.Join of *KeyError
// (a file that does not parse is the one exception: nothing after its first
// syntax error can be read). On error the Config is nil. Warnings come sorted
// by key, at most one per key.
func Load(path string, environ []string) (*Config, []Warning, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
	}
	return load(path, data, environ)
}

// load is Load on a file already read; path "" means no file.
func load(path string, data []byte, environ []string) (*Config, []Warning, error) {
	c := Default()
	l := loader{warned: map[string]bool{}, failed: map[string]bool{}, src: map[string]string{}}
	if path != "" {
		if err := l.file(c, path, data); err != nil {
			return nil, nil, err
		}
	}
	l.env(c, environ)
	for _, e := range c.problems() {
		if !l.failed[e.Key] {
			e.Msg = l.where(e.Key, e.Msg)
			l.errs = append(l.errs, e)
		}
	}
	slices.SortStableFunc(l.warns, func(a, b Warning) int { return strings.Compare(a.Key, b.Key) })
	if len(l.errs) > 0 {
		return nil, l.warns, errors.Join(l.errs...)
	}
	return c, l.warns, nil
}

// loader collects errors and warnings while one Load runs.
type loader struct {
	errs   []error
	failed map[string]bool // keys with an error already: Validate stays quiet on them.
	warns  []Warning
	warned map[string]bool   // keys already warned about: one warning per key.
	src    map[string]string // key -> where it was set: "file:line:col" or "env NAME".
}

func (l *loader) fail(key string, kind error, msg string) {
	l.failed[key] = true
	l.errs = append(l.errs, &KeyError{Key: key, Msg: l.where(key, msg), Kind: kind})
}

// where appends to msg where key was set, if the file or env set it. An
// entry of meta_addrs set with the whole table points at the table.
func (l *loader) where(key, msg string) string {
	src, ok := l.src[key]
	if !ok && strings.HasPrefix(key, "meta_addrs.") {
		src = l.src["meta_addrs"]
	}
	if src == "" {
		return msg
	}
	return msg + " (" + src + ")"
}

// setBy records that the env variable name set key, replacing what the file
// said about key and its entries.
func (l *loader) setBy(key, name string) {
	for k := range l.src {
		if strings.HasPrefix(k, key+".") {
			delete(l.src, k)
		}
	}
	l.src[key] = "env " + name
}

func (l *loader) warn(key, msg string) {
	if l.warned[key] {
		return
	}
	l.warned[key] = true
	l.warns = append(l.warns, Warning{Key: key, Msg: msg})
}

const unimplemented = "accepted for RobustMQ compatibility but not implemented yet; ignored"

// file applies a TOML document onto c. A syntax error is returned alone;
// key errors are collected in l.
func (l *loader) file(c *Config, path string, data []byte) error {
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return fmt.Errorf("config: %s:%d:%d: %w", path, row, col, de)
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	l.positions(path, data)
	l.table(raw, reflect.ValueOf(c).Elem(), "", false)
	return nil
}

// positions records where each key of the document is written, as
// "file:line:col", so every error on a key read from the file points at its
// line. It walks go-toml's parser; data has already parsed once, so the walk
// cannot fail. Table headers and the parents of dotted keys are recorded at
// their first mention.
func (l *loader) positions(path string, data []byte) {
	var p unstable.Parser
	p.Reset(data)
	// note records the position of every prefix of the key prefix+it.
	note := func(prefix []string, it unstable.Iterator) []string {
		key := slices.Clone(prefix)
		for it.Next() {
			key = append(key, string(it.Node().Data))
			name := strings.Join(key, ".")
			if _, seen := l.src[name]; !seen {
				at := p.Shape(it.Node().Raw).Start
				l.src[name] = fmt.Sprintf("%s:%d:%d", path, at.Line, at.Column)
			}
		}
		return key
	}
	var keyval func(prefix []string, kv *unstable.Node)
	keyval = func(prefix []string, kv *unstable.Node) {
		key := note(prefix, kv.Key())
		if v := kv.Value(); v.Kind == unstable.InlineTable {
			for it := v.Children(); it.Next(); {
				keyval(key, it.Node())
			}
		}
	}
	var table []string // the current [table] header
	for p.NextExpression() {
		switch e := p.Expression(); e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = note(nil, e.Key())
		case unstable.KeyValue:
			keyval(table, e)
		}
	}
}

// table applies one TOML table onto the struct v. prefix is v's key path;
// unimpl is true inside a section tagged impl:"no".
func (l *loader) table(raw map[string]any, v reflect.Value, prefix string, unimpl bool) {
	for _, k := range sortedKeys(raw) {
		key := join(prefix, k)
		sf, ok := fieldByKey(v.Type(), k)
		if !ok {
			l.fail(key, ErrUnknownKey, "unknown key")
			continue
		}
		fv := v.FieldByIndex(sf.Index)
		un := unimpl || sf.Tag.Get("impl") == "no"
		if fv.Kind() == reflect.Struct {
			sub, ok := raw[k].(map[string]any)
			if !ok {
				l.fail(key, ErrType, "want a table, got "+describe(raw[k]))
				continue
			}
			l.table(sub, fv, key, un)
			continue
		}
		if err := assign(fv, raw[k]); err != nil {
			l.fail(key, ErrType, err.Error())
			continue
		}
		if un {
			l.warn(key, unimplemented)
		}
	}
}

// env applies the ROBUST_MQ_SERVER_* variables of environ onto c. With a
// name given twice, the last one wins, as in a shell.
func (l *loader) env(c *Config, environ []string) {
	set := map[string]string{}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, EnvPrefix) {
			set[name] = val
		}
	}
	if len(set) == 0 {
		return
	}
	byEnv := map[string]leaf{}
	for _, lf := range leaves(c) {
		byEnv[EnvName(lf.key)] = lf
	}
	for _, name := range sortedKeys(set) {
		val := set[name]
		lf, ok := byEnv[name]
		if !ok {
			if id, ok := strings.CutPrefix(name, metaAddrEnv); ok && id != "" {
				setMetaAddr(c, id, val)
				l.setBy("meta_addrs."+id, name)
				continue
			}
			l.warn(name, "environment variable matches no config key; ignored")
			continue
		}
		l.setBy(lf.key, name)
		src, err := parseEnv(lf.v, val)
		if err == nil {
			err = assign(lf.v, src)
		}
		if err != nil {
			l.fail(lf.key, ErrType, err.Error())
			continue
		}
		if lf.unimpl {
			l.warn(lf.key, unimplemented)
		}
	}
}

// metaAddrEnv starts the variables that set one meta_addrs entry:
// ROBUST_MQ_SERVER_META_ADDRS_<ID>=host:port. They are what RobustMQ derives
// from a `[meta_addrs]` table written one entry per line.
var metaAddrEnv = EnvName("meta_addrs") + "_"

// setMetaAddr sets meta_addrs.<id>. It runs after any
// ROBUST_MQ_SERVER_META_ADDRS (names are applied sorted), so it edits the
// table that one set. Validate checks the entry like one from the file.
func setMetaAddr(c *Config, id, val string) {
	m := make(map[string]string, len(c.MetaAddrs)+1)
	maps.Copy(m, c.MetaAddrs)
	m[id] = unquote(strings.TrimSpace(val))
	c.MetaAddrs = m
}

// EnvName is the environment variable that overrides key, e.g.
// "mqtt_runtime.server.tcp_port" -> "ROBUST_MQ_SERVER_MQTT_RUNTIME_SERVER_TCP_PORT".
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// leaf is one settable key: a scalar, a list or the meta_addrs map.
type leaf struct {
	key    string
	v      reflect.Value // addressable field of the Config being loaded.
	unimpl bool
}

// leaves lists every key of c in struct order.
func leaves(c *Config) []leaf {
	var out []leaf
	var walk func(v reflect.Value, prefix string, unimpl bool)
	walk = func(v reflect.Value, prefix string, unimpl bool) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			key := join(prefix, sf.Tag.Get("toml"))
			un := unimpl || sf.Tag.Get("impl") == "no"
			if sf.Type.Kind() == reflect.Struct {
				walk(v.Field(i), key, un)
				continue
			}
			out = append(out, leaf{key: key, v: v.Field(i), unimpl: un})
		}
	}
	walk(reflect.ValueOf(c).Elem(), "", false)
	return out
}

// parseEnv turns an env value into what a TOML decoder would have produced
// for the field v. Strings are taken as they are. Lists are a TOML array
// (`["meta","broker"]`) or a comma list (`meta,broker`); meta_addrs is a
// TOML inline table (`{1="a:1228"}`) or `1=a:1228,2=b:1228`. Anything else
// is read as a TOML value (integer, float, boolean), or else kept as a string
// for assign to reject with the expected type.
func parseEnv(v reflect.Value, s string) (any, error) {
	t := strings.TrimSpace(s)
	switch v.Kind() {
	case reflect.String:
		return unquote(s), nil
	case reflect.Slice:
		if strings.HasPrefix(t, "[") {
			return tomlValue(t)
		}
		out := []any{}
		for p := range strings.SplitSeq(t, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case reflect.Map:
		if strings.HasPrefix(t, "{") {
			return tomlValue(t)
		}
		out := map[string]any{}
		for p := range strings.SplitSeq(t, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			k, val, ok := strings.Cut(p, "=")
			if !ok {
				return nil, fmt.Errorf("%q is not id=host:port", p)
			}
			out[strings.TrimSpace(k)] = strings.TrimSpace(val)
		}
		return out, nil
	}
	if v, err := tomlValue(t); err == nil {
		return v, nil
	}
	return s, nil // not a TOML value: assign reports it as a string of the wrong type.
}

// unquote accepts a TOML string literal as well as bare text: RobustMQ
// splices env values into its file as TOML, so its users write
// ROBUST_MQ_SERVER_CLUSTER_NAME='"prod"'. Bare text is kept as it is.
func unquote(s string) string {
	t := strings.TrimSpace(s)
	if len(t) >= 2 && (t[0] == '"' || t[0] == '\'') && t[len(t)-1] == t[0] {
		if v, err := tomlValue(t); err == nil {
			if str, ok := v.(string); ok {
				return str
			}
		}
	}
	return s
}

// tomlValue parses s as the right-hand side of a TOML key/value pair.
func tomlValue(s string) (any, error) {
	var m map[string]any
	if err := toml.Unmarshal([]byte("v = "+s), &m); err != nil || len(m) != 1 {
		return nil, fmt.Errorf("%q is not a TOML value", s)
	}
	return m["v"], nil
}

// assign stores a decoded TOML value in the field v, checking its type and
// range. It replaces lists and maps whole: a file's meta_addrs is not merged
// with the default one.
func assign(v reflect.Value, src any) error {
	switch v.Kind() {
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			return want("a string", src)
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			return want("a boolean", src)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := src.(int64)
		if !ok {
			return want("an integer", src)
		}
		if v.OverflowInt(n) {
			return fmt.Errorf("%d is out of range", n)
		}
		v.SetInt(n)
	case reflect.Uint64:
		n, ok := src.(int64)
		if !ok {
			return want("an integer", src)
		}
		if n < 0 {
			return fmt.Errorf("%d is negative", n)
		}
		v.SetUint(uint64(n))
	case reflect.Float64:
		switch f := src.(type) {
		case float64:
			v.SetFloat(f)
		case int64:
			v.SetFloat(float64(f))
		default:
			return want("a number", src)
		}
	case reflect.Slice: // []string
		arr, ok := src.([]any)
		if !ok {
			return want("an array of strings", src)
		}
		out := make([]string, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("element %d: %w", i, want("a string", e))
			}
			out[i] = s
		}
		v.Set(reflect.ValueOf(out))
	case reflect.Map: // map[string]string
		m, ok := src.(map[string]any)
		if !ok {
			return want("a table of strings", src)
		}
		out := make(map[string]string, len(m))
		for _, k := range sortedKeys(m) { // sorted: the first bad entry is reported, always the same one.
			e := m[k]
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("%s: %w", k, want("a string", e))
			}
			out[k] = s
		}
		v.Set(reflect.ValueOf(out))
	default:
		// Every Config field has one of the kinds above; TestLeaves holds
		// that true.
		return fmt.Errorf("field kind %s cannot be set", v.Kind())
	}
	return nil
}

func want(what string, got any) error {
	return fmt.Errorf("want %s, got %s", what, describe(got))
}

// describe names a decoded TOML value's type and shows it.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case int64:
		return "integer " + strconv.FormatInt(x, 10)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T %v", v, v)
}

// fieldByKey finds the field of struct type t whose toml tag is key.
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if sf := t.Field(i); sf.Tag.Get("toml") == key {
			return sf, true
		}
	}
	return reflect.StructField{}, false
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
