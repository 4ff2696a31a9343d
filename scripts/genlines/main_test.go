package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/accesslog"
)

var testDay = time.Date(2026, time.November, 25, 0, 0, 0, 0, time.UTC)

func gen(t *testing.T, n int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := generate(&buf, n, seed, 20000, testDay); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLinesAreSeedFormat checks every line against the seed format as the
// product defines it, independently of how the generator builds lines.
func TestLinesAreSeedFormat(t *testing.T) {
	const n = 5000
	out := gen(t, n, 7)
	var want []string
	for _, f := range accesslog.SeedFormat {
		want = append(want, f.Key)
	}
	slices.Sort(want)

	statuses := map[string]int{}
	methods := map[string]int{}
	identities := map[string]bool{}
	var prev time.Time
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<16)
	lines := 0
	for sc.Scan() {
		lines++
		var m map[string]string // every value must be a JSON string
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", lines, err, sc.Bytes())
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Fatalf("line %d keys = %v, want %v", lines, keys, want)
		}
		ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", m["requestTime"])
		if err != nil {
			t.Fatalf("line %d requestTime: %v", lines, err)
		}
		if ts.Before(testDay) || !ts.Before(testDay.Add(24*time.Hour)) || ts.Before(prev) {
			t.Fatalf("line %d requestTime %v outside the day or out of order (prev %v)", lines, ts, prev)
		}
		if !strings.HasSuffix(m["requestTime"], " +0000") {
			t.Fatalf("line %d requestTime %q not in UTC", lines, m["requestTime"])
		}
		prev = ts
		if _, err := netip.ParseAddr(m["ip"]); err != nil {
			t.Fatalf("line %d ip: %v", lines, err)
		}
		for _, k := range []string{"status", "responseLength", "durationMs"} {
			if v, err := strconv.Atoi(m[k]); err != nil || v < 0 {
				t.Fatalf("line %d %s = %q, want a non-negative integer", lines, k, m[k])
			}
		}
		if !strings.HasPrefix(m["resourcePath"], "/") {
			t.Fatalf("line %d resourcePath %q", lines, m["resourcePath"])
		}
		statuses[m["status"]]++
		methods[m["httpMethod"]]++
		identities[m["apiKeyId"]+m["principalId"]+m["userArn"]+m["cognitoIdentityId"]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines != n {
		t.Fatalf("got %d lines, want %d", lines, n)
	}
	// Variety a parse-rate comparison needs: not one repeated line.
	if len(statuses) < 8 || len(methods) < 5 || len(identities) < 500 {
		t.Fatalf("too little variety: %d statuses, %d methods, %d identities", len(statuses), len(methods), len(identities))
	}
	if ok := statuses["200"] + statuses["201"] + statuses["204"]; ok < n*3/4 {
		t.Fatalf("only %d of %d successes", ok, n)
	}
}

func TestMeanLineLength(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		out := gen(t, 20000, seed)
		mean := float64(len(out)) / 20000
		if mean < 550 || mean > 600 {
			t.Errorf("seed %d: mean line length %.1f bytes, want 550-600", seed, mean)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b, c := gen(t, 500, 42), gen(t, 500, 42), gen(t, 500, 43)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different output")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same output")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    config
		ok   bool
	}{
		{"defaults", config{n: 1000, users: 20000, day: "2026-11-25"}, true},
		{"zero lines", config{n: 0, users: 1, day: "2026-11-25"}, true},
		{"negative n", config{n: -1, users: 1, day: "2026-11-25"}, false},
		{"no users", config{n: 1, users: 0, day: "2026-11-25"}, false},
		{"bad day", config{n: 1, users: 1, day: "25/Nov/2026"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestFieldEscapes(t *testing.T) {
	for _, v := range []string{"", "-", `a"b`, `back\slash`, "tab\there", "nl\n", "\x00\x1f", "Mozilla/5.0 (X11)"} {
		checkField(t, v)
	}
}

// FuzzField checks that field writes any valid UTF-8 value as a JSON
// string that decodes back to the same value.
func FuzzField(f *testing.F) {
	f.Add(`a"b\c`)
	f.Add("\x01")
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) {
			t.Skip("encoding/json replaces invalid UTF-8, so no round trip to compare")
		}
		checkField(t, v)
	})
}

func checkField(t *testing.T, v string) {
	t.Helper()
	b := append(field([]byte{'{'}, "k", v, true), '}')
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("field(%q) = %s: %v", v, b, err)
	}
	if m["k"] != v {
		t.Fatalf("field(%q) round-trips to %q", v, m["k"])
	}
}
