package profile

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// state is a profile as the tests see it.
type state struct {
	meta   map[string]any
	fields map[string]string
}

func apply(t *testing.T, ups []Update) state {
	t.Helper()
	var meta, times []byte
	fields := map[string]string{}
	for _, u := range ups {
		m, err := Merge(meta, times, u)
		if err != nil {
			t.Fatalf("merge %s: %v", u.Metadata, err)
		}
		meta, times = m.Metadata, m.Times
		for k, v := range m.Fields {
			fields[k] = v
		}
	}
	got := state{meta: map[string]any{}, fields: fields}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &got.meta); err != nil {
			t.Fatalf("merged metadata %s: %v", meta, err)
		}
	}
	return got
}

func upd(meta string, at time.Duration, fields ...string) Update {
	u := Update{At: t0.Add(at), Fields: map[string]string{}}
	if meta != "" {
		u.Metadata = []byte(meta)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		u.Fields[fields[i]] = fields[i+1]
	}
	return u
}

func TestMergeCases(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ups        []Update
		wantMeta   string
		wantFields map[string]string
	}{
		{"first update", []Update{upd(`{"plan":"pro"}`, 0, "company_id", "acme")}, `{"plan":"pro"}`, map[string]string{"company_id": "acme"}},
		{"keys not mentioned are kept", []Update{upd(`{"plan":"pro","email":"a@x.io"}`, 0), upd(`{"email":"b@x.io"}`, time.Hour)},
			`{"plan":"pro","email":"b@x.io"}`, map[string]string{}},
		{"older update loses per key, wins where newer", []Update{upd(`{"plan":"pro"}`, time.Hour), upd(`{"plan":"free","seats":3}`, 0)},
			`{"plan":"pro","seats":3}`, map[string]string{}},
		{"same time: later arrival wins", []Update{upd(`{"plan":"pro"}`, 0), upd(`{"plan":"free"}`, 0)}, `{"plan":"free"}`, map[string]string{}},
		{"nested values replace whole", []Update{upd(`{"sales":{"stage":"lead","ltv":1}}`, 0), upd(`{"sales":{"stage":"customer"}}`, time.Minute)},
			`{"sales":{"stage":"customer"}}`, map[string]string{}},
		{"null is a value", []Update{upd(`{"plan":"pro"}`, 0), upd(`{"plan":null}`, time.Minute)}, `{"plan":null}`, map[string]string{}},
		{"a later update without the field keeps an earlier link", []Update{upd(`{"a":1}`, time.Hour), upd(``, 0, "company_id", "acme")},
			`{"a":1}`, map[string]string{"company_id": "acme"}},
		{"an older link arriving later loses", []Update{upd(``, time.Hour, "company_id", "new"), upd(``, 0, "company_id", "old")},
			`{}`, map[string]string{"company_id": "new"}},
		{"null metadata is no metadata", []Update{upd(`{"a":1}`, 0), upd(`null`, time.Hour)}, `{"a":1}`, map[string]string{}},
		{"html characters kept as sent", []Update{upd(`{"q":"<a&b>"}`, 0)}, `{"q":"<a&b>"}`, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := apply(t, tc.ups)
			var want map[string]any
			if err := json.Unmarshal([]byte(tc.wantMeta), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.meta, want) || !reflect.DeepEqual(got.fields, tc.wantFields) {
				t.Fatalf("got %v %v, want %v %v", got.meta, got.fields, want, tc.wantFields)
			}
		})
	}
}

func TestMergeKeepsHTMLUnescaped(t *testing.T) {
	m, err := Merge(nil, nil, upd(`{"q":"<a&b>"}`, 0))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Metadata) != `{"q":"<a&b>"}` {
		t.Fatalf("metadata = %s", m.Metadata)
	}
}

// reference computes a merge the slow, obvious way: for every key, the
// value of the update with the latest time, the last to arrive among
// equals. It shares no code with Merge.
func reference(ups []Update) state {
	type won struct {
		at  int64
		val any
	}
	meta := map[string]won{}
	fields := map[string]won{}
	for _, u := range ups {
		ms := u.At.UnixMilli()
		var m map[string]any
		json.Unmarshal(u.Metadata, &m)
		for k, v := range m {
			if w, ok := meta[k]; !ok || ms >= w.at {
				meta[k] = won{ms, v}
			}
		}
		for k, v := range u.Fields {
			if v == "" {
				continue
			}
			if w, ok := fields[k]; !ok || ms >= w.at {
				fields[k] = won{ms, v}
			}
		}
	}
	s := state{meta: map[string]any{}, fields: map[string]string{}}
	for k, w := range meta {
		s.meta[k] = w.val
	}
	for k, w := range fields {
		s.fields[k] = w.val.(string)
	}
	return s
}

// TestMergeMatchesReference applies random updates in random orders: the
// result must be the reference's for that order, and, when no two updates
// share a time, the same for every order.
func TestMergeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"plan", "email", "seats", "region"}
	for round := 0; round < 300; round++ {
		n := 1 + rng.IntN(6)
		ups := make([]Update, n)
		distinct := map[int]bool{}
		for i := range ups {
			m := map[string]any{}
			for _, k := range keys {
				if rng.IntN(2) == 0 {
					m[k] = rng.IntN(100)
				}
			}
			b, _ := json.Marshal(m)
			minute := rng.IntN(5)
			distinct[minute] = true
			company := ""
			if rng.IntN(2) == 0 {
				company = []string{"acme", "globex", "initech"}[rng.IntN(3)]
			}
			ups[i] = upd(string(b), time.Duration(minute)*time.Minute, "company_id", company)
		}
		first := apply(t, ups)
		if want := reference(ups); !reflect.DeepEqual(first, want) {
			t.Fatalf("round %d: got %v, want %v", round, first, want)
		}
		for p := 0; p < 5; p++ {
			rng.Shuffle(len(ups), func(i, j int) { ups[i], ups[j] = ups[j], ups[i] })
			got := apply(t, ups)
			if want := reference(ups); !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d order %d: got %v, want %v", round, p, got, want)
			}
			if len(distinct) == n && !reflect.DeepEqual(got, first) {
				t.Fatalf("round %d: distinct times, yet order changed the result: %v vs %v", round, got, first)
			}
		}
	}
}

func TestMergeReadsFlatTimes(t *testing.T) {
	// The flat form older versions stored: key to Unix ms.
	flat := []byte(`{"plan":` + jsonInt(t0.Add(time.Hour).UnixMilli()) + `}`)
	m, err := Merge([]byte(`{"plan":"pro"}`), flat, upd(`{"plan":"free","seats":2}`, 0))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Metadata) != `{"plan":"pro","seats":2}` {
		t.Fatalf("metadata = %s", m.Metadata)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestMergeBadInput(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cur, times     string
		update         string
		wantBadUpdate  bool
		wantFieldsKept bool
	}{
		{name: "update is an array", update: `[1,2]`, wantBadUpdate: true, wantFieldsKept: true},
		{name: "update is a string", update: `"x"`, wantBadUpdate: true, wantFieldsKept: true},
		{name: "update is not JSON", update: `{"a":`, wantBadUpdate: true, wantFieldsKept: true},
		{name: "stored metadata not JSON", cur: `{`, update: `{"a":1}`},
		{name: "stored times not JSON", times: `{`, update: `{"a":1}`},
		{name: "stored times wrong type", times: `{"metadata":[1]}`, update: `{"a":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Merge([]byte(tc.cur), []byte(tc.times), Update{Metadata: []byte(tc.update), Fields: map[string]string{"company_id": "acme"}, At: t0})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrBadUpdate); got != tc.wantBadUpdate {
				t.Fatalf("errors.Is(ErrBadUpdate) = %v: %v", got, err)
			}
			if tc.wantFieldsKept && (m.Fields["company_id"] != "acme" || string(m.Metadata) != "{}") {
				t.Fatalf("fields of a bad-metadata update not applied: %+v", m)
			}
		})
	}
}

func FuzzMerge(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"metadata":{"a":5}}`), []byte(`{"a":2,"b":[1]}`), int64(3))
	f.Add([]byte(``), []byte(`{"a":5}`), []byte(`null`), int64(-1))
	f.Fuzz(func(t *testing.T, cur, times, update []byte, at int64) {
		m, err := Merge(cur, times, Update{Metadata: update, Fields: map[string]string{"company_id": "c"}, At: time.UnixMilli(at)})
		if err != nil && !errors.Is(err, ErrBadUpdate) {
			return
		}
		// Whatever went in, what comes out must read back.
		if !json.Valid(m.Metadata) || !json.Valid(m.Times) {
			t.Fatalf("invalid output %q %q", m.Metadata, m.Times)
		}
		if _, err := Merge(m.Metadata, m.Times, Update{At: time.UnixMilli(at)}); err != nil {
			t.Fatalf("output does not merge again: %v", err)
		}
	})
}
