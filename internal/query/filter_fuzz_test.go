package query

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// FuzzParseFilter feeds arbitrary text to the filter language. It must
// never panic; a filter it accepts must compile for every source or be
// refused as a bad query, with every value a bind parameter: as many
// placeholders as arguments, and nothing that ends a statement.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`{"field":"status","op":"class","value":"5xx"}`,
		`{"and":[{"field":"route","op":"in","values":["/a","/b"]},{"not":{"field":"metadata.k","op":"gt","value":3}}]}`,
		`{"or":[{"field":"user_metadata.plan","op":"prefix","value":"p"},{"field":"company_id","op":"exists","value":false}]}`,
		`{"field":"latency_ms","op":"between","values":[1,"2"]}`,
		`{"field":"rejected_at_gateway","op":"eq","value":"true"}`,
		`{"field":"x'; DROP TABLE events; --","op":"eq","value":1}`,
	} {
		f.Add(s)
	}
	c := compiler{d: DuckDB{}}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter([]byte(s))
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("error %v is not a bad query", err)
			}
			return
		}
		for _, src := range []srcKind{srcRaw, srcTraffic, srcUser} {
			x, _, ok, err := c.where(src, flt)
			if err != nil {
				if !errors.Is(err, ErrBadQuery) {
					t.Fatalf("compile error %v is not a bad query", err)
				}
				continue
			}
			if !ok {
				continue
			}
			if n := strings.Count(x.text, "?"); n != len(x.args) {
				t.Fatalf("%d placeholders, %d args in %s", n, len(x.args), x.text)
			}
			if strings.Contains(x.text, ";") || strings.Contains(x.text, "--") {
				t.Fatalf("statement text escaped its bounds: %s", x.text)
			}
		}
	})
}

// FuzzFilterParams does the same through query parameters.
func FuzzFilterParams(f *testing.F) {
	f.Add("status=5xx&route=/orders/{id}&user_id=u1&company_id=acme")
	f.Add("status=404&filter=%7B%22field%22%3A%22method%22%2C%22op%22%3A%22eq%22%2C%22value%22%3A%22GET%22%7D")
	c := compiler{d: DuckDB{}}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		flt, err := FilterFromParams(q)
		if err != nil {
			if !errors.Is(err, ErrBadQuery) {
				t.Fatalf("error %v is not a bad query", err)
			}
			return
		}
		x, _, _, err := c.where(srcRaw, flt)
		if err == nil && strings.Count(x.text, "?") != len(x.args) {
			t.Fatalf("placeholders and args differ: %s", x.text)
		}
	})
}
