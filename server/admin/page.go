package admin

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ErrBadPage marks a paging parameter that cannot be used; WritePage answers it with 400.
var ErrBadPage = errors.New("admin: bad paging parameter")

// DefaultLimit is the page size when limit is absent (RobustMQ's default).
const DefaultLimit = 10000

// PageQuery is the filtering, sorting and paging asked for by a list request.
type PageQuery struct {
	Limit     int    // items per page, >= 1
	Page      int    // 1-based
	SortField string // JSON field name of the items; "" keeps the order given
	Desc      bool   // sort_by=desc
	// FilterField keeps only items whose field of that JSON name matches one of FilterValues,
	// case-insensitively: equal, or containing it when Fuzzy. "" keeps every item.
	FilterField  string
	FilterValues []string
	Fuzzy        bool // exact_match=false
}

// Page is the data of a paged answer.
type Page[T any] struct {
	Data       []T `json:"data"`
	TotalCount int `json:"total_count"`
}

// ParsePage reads limit, page, sort_field, sort_by, filter_field, filter_values (repeated or
// comma-separated) and exact_match (true, the default, or false) from the URL query of r.
func ParsePage(r *http.Request) (PageQuery, error) {
	q := r.URL.Query()
	p := PageQuery{Limit: DefaultLimit, Page: 1, SortField: q.Get("sort_field"), FilterField: q.Get("filter_field")}
	for _, v := range q["filter_values"] {
		for s := range strings.SplitSeq(v, ",") {
			if s != "" {
				p.FilterValues = append(p.FilterValues, strings.ToLower(s))
			}
		}
	}
	switch s := strings.ToLower(q.Get("exact_match")); s {
	case "", "true", "exact":
	case "false", "fuzzy":
		p.Fuzzy = true
	default:
		return p, fmt.Errorf("%w: exact_match=%q is not true or false", ErrBadPage, s)
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"limit", &p.Limit}, {"page", &p.Page}} {
		s := q.Get(f.key)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, fmt.Errorf("%w: %s=%q is not a positive integer", ErrBadPage, f.key, s)
		}
		*f.dst = n
	}
	switch s := strings.ToLower(q.Get("sort_by")); s {
	case "", "asc":
	case "desc":
		p.Desc = true
	default:
		return p, fmt.Errorf("%w: sort_by=%q is not asc or desc", ErrBadPage, s)
	}
	return p, nil
}

// Paginate filters and sorts a copy of items as q asks and cuts out q's page; total_count counts the
// items left by the filter. T must be a struct, or a pointer to one, whose fields named by
// sort_field and filter_field (their JSON names) are numbers, strings or bools; any other field is an
// ErrBadPage. The sort is stable, so equal keys keep their given order.
func Paginate[T any](items []T, q PageQuery) (Page[T], error) {
	if q.FilterField != "" && len(q.FilterValues) > 0 {
		idx, err := field(reflect.TypeFor[T](), "filter_field", q.FilterField)
		if err != nil {
			return Page[T]{}, err
		}
		var kept []T
		for _, it := range items {
			if matches(reflect.ValueOf(it), idx, q.FilterValues, q.Fuzzy) {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	total := len(items)
	if q.SortField != "" {
		idx, err := field(reflect.TypeFor[T](), "sort_field", q.SortField)
		if err != nil {
			return Page[T]{}, err
		}
		items = slices.Clone(items)
		slices.SortStableFunc(items, func(a, b T) int {
			c := compareField(reflect.ValueOf(a), reflect.ValueOf(b), idx)
			if q.Desc {
				return -c
			}
			return c
		})
	}
	// Both bounds are clamped to total before multiplying can overflow: Page*Limit may not fit an int.
	start := total
	if q.Page-1 < total/q.Limit+1 {
		start = min((q.Page-1)*q.Limit, total)
	}
	end := start + min(q.Limit, total-start)
	return Page[T]{Data: items[start:end:end], TotalCount: total}, nil
}

// WritePage answers r with the page of items that its query asks for, or with 400 if the query is bad.
func WritePage[T any](w http.ResponseWriter, r *http.Request, items []T) {
	q, err := ParsePage(r)
	if err == nil {
		var p Page[T]
		if p, err = Paginate(items, q); err == nil {
			if p.Data == nil {
				p.Data = []T{} // an empty page is [], never null
			}
			OK(w, p)
			return
		}
	}
	Fail(w, http.StatusBadRequest, err.Error())
}

// field finds the struct field of t (or *t) whose JSON name, else Go name (case-insensitive), is
// name, and checks that it is a number, string or bool. param names the query parameter for errors.
func field(t reflect.Type, param, name string) ([]int, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %s=%q: items have no fields", ErrBadPage, param, name)
	}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous || viaPointer(t, f.Index) {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || (tag != name && !(tag == "" && strings.EqualFold(f.Name, name))) {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.String, reflect.Bool:
			return f.Index, nil
		}
		return nil, fmt.Errorf("%w: %s=%q: a %s field is not a number, string or bool", ErrBadPage, param, name, f.Type)
	}
	return nil, fmt.Errorf("%w: %s=%q: no such field", ErrBadPage, param, name)
}

// matches tells whether the field at idx of item, as lower-case text, equals (or, fuzzy, contains)
// one of values. REQUIRES: idx from field for item's type; values lower-case. A nil item never matches.
func matches(item reflect.Value, idx []int, values []string, fuzzy bool) bool {
	if item.Kind() == reflect.Pointer {
		if item.IsNil() {
			return false
		}
		item = item.Elem()
	}
	v := item.FieldByIndex(idx)
	var s string
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s = strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s = strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		s = strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Bool:
		s = strconv.FormatBool(v.Bool())
	default:
		s = strings.ToLower(v.String())
	}
	for _, want := range values {
		if s == want || (fuzzy && strings.Contains(s, want)) {
			return true
		}
	}
	return false
}

// viaPointer tells whether the promoted field at idx is reached through an embedded pointer, which may be
// nil in some item: such fields are not offered for sorting.
func viaPointer(t reflect.Type, idx []int) bool {
	for i := 1; i < len(idx); i++ {
		if t.FieldByIndex(idx[:i]).Type.Kind() == reflect.Pointer {
			return true
		}
	}
	return false
}

// compareField orders a and b by the field at idx. REQUIRES: idx from sortField for their type. A nil
// pointer item sorts first.
func compareField(a, b reflect.Value, idx []int) int {
	if a.Kind() == reflect.Pointer {
		if a.IsNil() || b.IsNil() {
			return cmp.Compare(boolInt(!a.IsNil()), boolInt(!b.IsNil()))
		}
		a, b = a.Elem(), b.Elem()
	}
	a, b = a.FieldByIndex(idx), b.FieldByIndex(idx)
	switch a.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cmp.Compare(a.Int(), b.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cmp.Compare(a.Uint(), b.Uint())
	case reflect.Float32, reflect.Float64:
		return cmp.Compare(a.Float(), b.Float())
	case reflect.Bool:
		return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool()))
	}
	return strings.Compare(a.String(), b.String())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
