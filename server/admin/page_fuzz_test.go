package admin

import (
	"net/http/httptest"
	"testing"
)

// FuzzPage feeds arbitrary query strings through ParsePage and Paginate: neither may panic, and a page
// never holds more than limit items or more than the filter kept.
func FuzzPage(f *testing.F) {
	f.Add("limit=2&page=2&sort_field=count&sort_by=desc")
	f.Add("filter_field=name&filter_values=a,b&exact_match=false&page=9223372036854775807")
	f.Add("sort_field=Tags&limit=-1")
	items := []item{{Name: "b", Count: 2}, {Name: "a", Count: 3, On: true}, {Name: "c", Count: 1}}
	f.Fuzz(func(t *testing.T, query string) {
		r := httptest.NewRequest("GET", "/x", nil)
		r.URL.RawQuery = query // malformed pairs are dropped by URL.Query, as for a real request
		q, err := ParsePage(r)
		if err != nil {
			return
		}
		p, err := Paginate(items, q)
		if err != nil {
			return
		}
		if len(p.Data) > q.Limit || len(p.Data) > p.TotalCount || p.TotalCount > len(items) {
			t.Fatalf("query %q: page of %d, total %d, limit %d, %d items", query, len(p.Data), p.TotalCount, q.Limit, len(items))
		}
	})
}
