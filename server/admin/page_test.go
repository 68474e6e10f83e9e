package admin

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
)

type item struct {
	Name  string  `json:"name"`
	Count int     `json:"count"`
	Ratio float64 `json:"ratio"`
	On    bool    `json:"on"`
	Tags  []string
	Plain uint32
}

func TestParsePage(t *testing.T) {
	f := func(query string, want PageQuery, wantErr bool) {
		t.Helper()
		got, err := ParsePage(httptest.NewRequest("GET", "/x?"+query, nil))
		if (err != nil) != wantErr || (err != nil && !errors.Is(err, ErrBadPage)) {
			t.Fatalf("ParsePage(%q) error = %v; want error %v", query, err, wantErr)
		}
		if !wantErr && !reflect.DeepEqual(got, want) {
			t.Fatalf("ParsePage(%q) = %+v; want %+v", query, got, want)
		}
	}
	f("", PageQuery{Limit: DefaultLimit, Page: 1}, false)
	f("limit=2&page=3&sort_field=name&sort_by=DESC", PageQuery{Limit: 2, Page: 3, SortField: "name", Desc: true}, false)
	f("sort_by=asc", PageQuery{Limit: DefaultLimit, Page: 1}, false)
	f("limit=0", PageQuery{}, true)
	f("limit=x", PageQuery{}, true)
	f("page=-1", PageQuery{}, true)
	f("sort_by=up", PageQuery{}, true)
	f("filter_field=name&filter_values=A,b&filter_values=c&exact_match=false",
		PageQuery{Limit: DefaultLimit, Page: 1, FilterField: "name", FilterValues: []string{"a", "b", "c"}, Fuzzy: true}, false)
	f("filter_field=name&filter_values=x&exact_match=true",
		PageQuery{Limit: DefaultLimit, Page: 1, FilterField: "name", FilterValues: []string{"x"}}, false)
	f("exact_match=maybe", PageQuery{}, true)
}

func TestPaginate(t *testing.T) {
	items := []item{
		{Name: "b", Count: 2, Ratio: 0.5, Plain: 9},
		{Name: "a", Count: 3, Ratio: 0.1, On: true, Plain: 7},
		{Name: "c", Count: 1, Ratio: 0.9, Plain: 8},
	}
	names := func(p Page[item]) []string {
		var out []string
		for _, it := range p.Data {
			out = append(out, it.Name)
		}
		return out
	}
	for _, tc := range []struct {
		q       PageQuery
		want    []string
		wantErr bool
	}{
		{PageQuery{Limit: 10, Page: 1}, []string{"b", "a", "c"}, false},
		{PageQuery{Limit: 10, Page: 1, SortField: "name"}, []string{"a", "b", "c"}, false},
		{PageQuery{Limit: 10, Page: 1, SortField: "name", Desc: true}, []string{"c", "b", "a"}, false},
		{PageQuery{Limit: 10, Page: 1, SortField: "count"}, []string{"c", "b", "a"}, false},
		{PageQuery{Limit: 10, Page: 1, SortField: "ratio", Desc: true}, []string{"c", "b", "a"}, false},
		{PageQuery{Limit: 10, Page: 1, SortField: "on", Desc: true}, []string{"a", "b", "c"}, false},
		{PageQuery{Limit: 10, Page: 1, SortField: "plain"}, []string{"a", "c", "b"}, false}, // Go name, any case
		{PageQuery{Limit: 2, Page: 1, SortField: "name"}, []string{"a", "b"}, false},
		{PageQuery{Limit: 2, Page: 2, SortField: "name"}, []string{"c"}, false},
		{PageQuery{Limit: 2, Page: 3}, nil, false},
		{PageQuery{Limit: 1 << 62, Page: 1 << 62}, nil, false}, // no overflow
		{PageQuery{Limit: 10, Page: 1, SortField: "name", FilterField: "name", FilterValues: []string{"c", "a"}}, []string{"a", "c"}, false},
		{PageQuery{Limit: 10, Page: 1, FilterField: "count", FilterValues: []string{"3"}}, []string{"a"}, false},
		{PageQuery{Limit: 10, Page: 1, FilterField: "on", FilterValues: []string{"false"}}, []string{"b", "c"}, false},
		{PageQuery{Limit: 10, Page: 1, FilterField: "ratio", FilterValues: []string{"0."}, Fuzzy: true}, []string{"b", "a", "c"}, false},
		{PageQuery{Limit: 10, Page: 1, FilterField: "ratio", FilterValues: []string{"0."}}, nil, false},
		{PageQuery{Limit: 10, Page: 1, FilterField: "tags", FilterValues: []string{"x"}}, nil, true},
		{PageQuery{Limit: 10, Page: 1, SortField: "tags"}, nil, true},
		{PageQuery{Limit: 10, Page: 1, SortField: "nope"}, nil, true},
	} {
		p, err := Paginate(items, tc.q)
		if (err != nil) != tc.wantErr {
			t.Fatalf("Paginate(%+v) error = %v; want error %v", tc.q, err, tc.wantErr)
		}
		if tc.wantErr {
			continue
		}
		wantTotal := 3
		if tc.q.FilterField != "" {
			wantTotal = len(tc.want)
		}
		if got := names(p); !reflect.DeepEqual(got, tc.want) || p.TotalCount != wantTotal {
			t.Errorf("Paginate(%+v) = %v total %d; want %v total %d", tc.q, got, p.TotalCount, tc.want, wantTotal)
		}
	}
	if items[0].Name != "b" {
		t.Fatalf("Paginate sorted the caller's slice: items[0] = %q", items[0].Name)
	}
	// Pointers to structs sort too, nil first.
	ptrs := []*item{{Name: "z"}, nil, {Name: "y"}}
	p, err := Paginate(ptrs, PageQuery{Limit: 10, Page: 1, SortField: "name"})
	if err != nil || p.Data[0] != nil || p.Data[1].Name != "y" {
		t.Fatalf("Paginate(pointers by name) = %v, %v; want [nil y z]", p.Data, err)
	}
	// Non-struct items cannot be sorted by field but can be paged.
	if _, err := Paginate([]int{3, 1}, PageQuery{Limit: 1, Page: 1, SortField: "x"}); !errors.Is(err, ErrBadPage) {
		t.Fatalf("Paginate(ints by field) error = %v; want ErrBadPage", err)
	}
}

func TestWritePage(t *testing.T) {
	f := func(query string, wantStatus int, wantBody string) {
		t.Helper()
		w := httptest.NewRecorder()
		WritePage(w, httptest.NewRequest("GET", "/x?"+query, nil), []item{{Name: "a", Count: 1}, {Name: "b", Count: 2}})
		if w.Code != wantStatus || w.Body.String() != wantBody {
			t.Fatalf("WritePage(%q) = %d %s; want %d %s", query, w.Code, w.Body, wantStatus, wantBody)
		}
	}
	f("limit=1&page=2&sort_field=count&sort_by=desc", 200,
		`{"code":0,"data":{"data":[{"name":"a","count":1,"ratio":0,"on":false,"Tags":null,"Plain":0}],"total_count":2},"error":null}`)
	f("page=5", 200, `{"code":0,"data":{"data":[],"total_count":2},"error":null}`)
	f("filter_field=name&filter_values=B", 200,
		`{"code":0,"data":{"data":[{"name":"b","count":2,"ratio":0,"on":false,"Tags":null,"Plain":0}],"total_count":1},"error":null}`)
	f("sort_field=zzz", 400, `{"code":400,"data":null,"error":"admin: bad paging parameter: sort_field=\"zzz\": no such field"}`)
}
