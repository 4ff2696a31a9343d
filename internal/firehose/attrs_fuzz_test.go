package firehose

import (
	"encoding/json"
	"sort"
	"testing"
)

// FuzzCommonAttributes: the X-Amz-Firehose-Common-Attributes header is
// sender-controlled. Parsing must never panic, and what it accepts is the
// header's map, sorted by key.
func FuzzCommonAttributes(f *testing.F) {
	f.Add(`{"commonAttributes":{"env":"prod","team":"api"}}`)
	f.Add(`{"commonAttributes":{"../../k":"' OR 1=1 --","":"\u0000"}}`)
	f.Add(`{"commonAttributes":{"a":1}}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, header string) {
		attrs, err := commonAttributes(header)
		if err != nil {
			return
		}
		var v struct {
			CommonAttributes map[string]string `json:"commonAttributes"`
		}
		if header != "" {
			if jerr := json.Unmarshal([]byte(header), &v); jerr != nil {
				t.Fatalf("accepted %q that encoding/json refuses: %v", header, jerr)
			}
		}
		if len(attrs) != len(v.CommonAttributes) {
			t.Fatalf("%d attributes from a map of %d", len(attrs), len(v.CommonAttributes))
		}
		if !sort.SliceIsSorted(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key }) {
			t.Fatal("attributes not sorted")
		}
		for _, a := range attrs {
			if v.CommonAttributes[a.Key] != a.Value {
				t.Fatalf("attribute %q = %q, header says %q", a.Key, a.Value, v.CommonAttributes[a.Key])
			}
		}
	})
}
