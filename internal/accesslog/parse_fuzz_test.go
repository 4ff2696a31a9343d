package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/event"
)

// fixtureLines returns the access-log lines of the end-to-end fixtures, the
// seed corpus of the parser's fuzz target.
func fixtureLines(f *testing.F) [][]byte {
	files, err := filepath.Glob("../service/testdata/*.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	var lines [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				lines = append(lines, append([]byte(nil), l...))
			}
		}
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for _, l := range fixtureLines(f) {
		f.Add(l)
	}
	for _, s := range []string{
		seedLine, recommendedLine, `{}`, `[]`, `null`, `{"requestId":"a","requestTimeEpoch":"1"}`,
		`{"requestId":"a","requestTime":"28/Feb/2026:09:15:30 +0000","x":{"y":[1,"\u007f",NaN]}}`,
		"{\"requestId\":\"a\\\\\xff\",\"requestTimeEpoch\":1,\"k\xfe\":\"\\ud800\"}",
	} {
		f.Add([]byte(s))
	}
	codes := map[string]bool{"not_json": true, "not_object": true, "missing_request_id": true, "missing_time": true, "bad_time": true}
	var p Parser // shared across inputs, as the receivers share one per batch
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev event.Event
		err := p.Parse(line, &parseCtx, &ev)
		var fresh event.Event
		ferr := new(Parser).Parse(line, &parseCtx, &fresh)
		if (err == nil) != (ferr == nil) {
			t.Fatalf("a used parser says %v, a fresh one %v", err, ferr)
		}
		if err != nil {
			var le *Error
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &le) || !codes[le.Code] {
				t.Fatalf("error %v: not an *Error with a known code", err)
			}
			return
		}
		if !reflect.DeepEqual(ev, fresh) {
			t.Fatalf("a used parser and a fresh one disagree:\n%+v\n%+v", ev, fresh)
		}
		if ev.RequestID == "" || ev.Time.IsZero() || ev.Time.Year() > 9999 {
			t.Fatalf("accepted event without requestId or a storable time: %+v", ev)
		}
		for _, s := range []string{ev.RequestID, ev.APIID, ev.Stage, ev.Method, ev.Path, ev.Route, ev.Host,
			ev.Protocol, ev.IP, ev.UserAgent, ev.UserID, ev.CompanyID, ev.APIKeyID, ev.PrincipalID,
			ev.CognitoIdentityID, ev.Caller, ev.UserARN, ev.ErrorMessage, ev.ErrorType} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q in %+v", s, ev)
			}
		}
		if ev.Status != event.Absent && (ev.Status < 0 || ev.Status > 999) {
			t.Fatalf("status %d", ev.Status)
		}
		if ev.ResponseBytes < event.Absent {
			t.Fatalf("response bytes %d", ev.ResponseBytes)
		}
		for _, x := range []float64{ev.LatencyMs, ev.IntegrationLatencyMs} {
			if math.IsNaN(x) || math.IsInf(x, 0) || (x < 0 && x != event.Absent) {
				t.Fatalf("latency %v cannot be stored and served", x)
			}
		}
		if ev.Metadata != nil {
			var m map[string]any
			if !utf8.Valid(ev.Metadata) || json.Unmarshal(ev.Metadata, &m) != nil || m == nil {
				t.Fatalf("metadata is not a JSON object: %q", ev.Metadata)
			}
		}
	})
}
