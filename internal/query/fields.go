package query

import (
	"regexp"
	"sort"
	"strings"
)

// Kind is a field's value type.
type Kind string

// The field kinds.
const (
	KindString Kind = "string"
	KindNumber Kind = "number"
	KindBool   Kind = "boolean"
)

// Field is a validated reference to an event field: a column, a derived
// value (status_class, rejected_at_gateway), or a metadata key. Name is
// what the API calls it; Key is the metadata key for the metadata kinds.
type Field struct {
	Name string
	Kind Kind
	ref  fieldRef
	Key  string
}

type fieldRef int

const (
	refColumn       fieldRef = iota // a column of events
	refCompany                      // the resolved company
	refStatusClass                  // 1xx..5xx
	refRejected                     // rejected_at_gateway
	refMetadata                     // metadata.<key>
	refUserMetadata                 // user_metadata.<key>
)

// columnFields are the event columns a filter or group_by may name, with
// their kinds. Every other name is refused: identifiers never come from
// input.
var columnFields = map[string]Kind{
	"request_id": KindString, "api_id": KindString, "stage": KindString, "method": KindString,
	"path": KindString, "route": KindString, "host": KindString, "protocol": KindString,
	"status": KindNumber, "response_bytes": KindNumber, "latency_ms": KindNumber, "integration_latency_ms": KindNumber,
	"ip": KindString, "user_agent": KindString, "user_id": KindString, "api_key_id": KindString,
	"principal_id": KindString, "cognito_identity_id": KindString, "caller": KindString, "user_arn": KindString,
	"error_message": KindString, "error_type": KindString, "source": KindString,
}

// notGroupable are fields too unique to group by.
var notGroupable = map[string]bool{"request_id": true, "response_bytes": true, "latency_ms": true, "integration_latency_ms": true}

var metadataKey = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)

// ParseField validates a field name.
func ParseField(name string) (Field, error) {
	name = strings.TrimSpace(name)
	if k, ok := columnFields[name]; ok {
		return Field{Name: name, Kind: k, ref: refColumn}, nil
	}
	switch name {
	case "company_id":
		return Field{Name: name, Kind: KindString, ref: refCompany}, nil
	case "status_class":
		return Field{Name: name, Kind: KindString, ref: refStatusClass}, nil
	case "rejected_at_gateway":
		return Field{Name: name, Kind: KindBool, ref: refRejected}, nil
	}
	for prefix, ref := range map[string]fieldRef{"metadata.": refMetadata, "user_metadata.": refUserMetadata} {
		if key, ok := strings.CutPrefix(name, prefix); ok {
			if !metadataKey.MatchString(key) {
				return Field{}, badQuery("metadata key %q: use 1 to 64 letters, digits, _ or -", key)
			}
			return Field{Name: name, Kind: KindString, ref: ref, Key: key}, nil
		}
	}
	return Field{}, badQuery("unknown field %q (see /api/v1/fields)", name)
}

// ParseGroupField validates a field used in group_by.
func ParseGroupField(name string) (Field, error) {
	f, err := ParseField(name)
	if err != nil {
		return f, err
	}
	if notGroupable[f.Name] {
		return f, badQuery("field %q cannot be grouped by", f.Name)
	}
	return f, nil
}

// FieldInfo describes a field for /api/v1/fields.
type FieldInfo struct {
	Name    string `json:"name"`
	Type    Kind   `json:"type"`
	GroupBy bool   `json:"group_by"`
}

// Fields lists the fixed fields (metadata keys aside), sorted by name.
func Fields() []FieldInfo {
	var out []FieldInfo
	for n, k := range columnFields {
		out = append(out, FieldInfo{n, k, !notGroupable[n]})
	}
	out = append(out, FieldInfo{"company_id", KindString, true}, FieldInfo{"status_class", KindString, true},
		FieldInfo{"rejected_at_gateway", KindBool, true})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
