package query

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
)

// Op is a condition's operator.
type Op string

// The operators of the filter language (docs/api.md).
const (
	OpEq       Op = "eq"
	OpNe       Op = "ne"
	OpIn       Op = "in"
	OpNotIn    Op = "not_in"
	OpPrefix   Op = "prefix"
	OpContains Op = "contains"
	OpGt       Op = "gt"
	OpGte      Op = "gte"
	OpLt       Op = "lt"
	OpLte      Op = "lte"
	OpBetween  Op = "between"
	OpClass    Op = "class"
	OpExists   Op = "exists"
)

// Limits on a filter's size, so that no request builds a huge statement.
const (
	MaxFilterNodes  = 100
	MaxFilterValues = 1000
	MaxFilterDepth  = 8
)

// Filter is a validated condition tree. Exactly one of And, Or, Not and
// Field is set. Values hold strings, float64s or bools matching the field's
// kind.
type Filter struct {
	And   []*Filter
	Or    []*Filter
	Not   *Filter
	Field *Field
	Op    Op
	// Values are the operands: one for most operators, the set for in and
	// not_in, [low, high] for between, [true|false] for exists. For class
	// they are the inclusive status range.
	Values []any
}

// rawFilter is the JSON form.
type rawFilter struct {
	And    []json.RawMessage `json:"and"`
	Or     []json.RawMessage `json:"or"`
	Not    json.RawMessage   `json:"not"`
	Field  string            `json:"field"`
	Op     Op                `json:"op"`
	Value  json.RawMessage   `json:"value"`
	Values []json.RawMessage `json:"values"`
}

type parseState struct{ nodes, values int }

// ParseFilter reads the JSON filter language. Empty input is no filter.
func ParseFilter(data []byte) (*Filter, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	var st parseState
	return st.parse(data, 0)
}

func (st *parseState) parse(data []byte, depth int) (*Filter, error) {
	if depth > MaxFilterDepth {
		return nil, badQuery("filter nests deeper than %d", MaxFilterDepth)
	}
	if st.nodes++; st.nodes > MaxFilterNodes {
		return nil, badQuery("filter has more than %d conditions", MaxFilterNodes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r rawFilter
	if err := dec.Decode(&r); err != nil {
		return nil, badQuery("filter is not valid: %v", err)
	}
	set := 0
	for _, b := range []bool{r.And != nil, r.Or != nil, r.Not != nil, r.Field != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, badQuery("a filter is one of {\"and\": [...]}, {\"or\": [...]}, {\"not\": {...}} or {\"field\", \"op\", \"value\"}")
	}
	f := &Filter{}
	switch {
	case r.And != nil || r.Or != nil:
		list := r.And
		if r.Or != nil {
			list = r.Or
		}
		if len(list) == 0 {
			return nil, badQuery("and/or needs at least one filter")
		}
		var subs []*Filter
		for _, s := range list {
			sub, err := st.parse(s, depth+1)
			if err != nil {
				return nil, err
			}
			subs = append(subs, sub)
		}
		if r.And != nil {
			f.And = subs
		} else {
			f.Or = subs
		}
		return f, nil
	case r.Not != nil:
		sub, err := st.parse(r.Not, depth+1)
		if err != nil {
			return nil, err
		}
		f.Not = sub
		return f, nil
	}
	field, err := ParseField(r.Field)
	if err != nil {
		return nil, err
	}
	var vals []json.RawMessage
	switch r.Op {
	case OpIn, OpNotIn, OpBetween:
		if r.Value != nil {
			return nil, badQuery("%s takes \"values\", not \"value\"", r.Op)
		}
		vals = r.Values
	default:
		if r.Values != nil {
			return nil, badQuery("%s takes \"value\", not \"values\"", r.Op)
		}
		if r.Value == nil {
			return nil, badQuery("condition on %s has no value", r.Field)
		}
		vals = []json.RawMessage{r.Value}
	}
	if st.values += len(vals); st.values > MaxFilterValues {
		return nil, badQuery("filter has more than %d values", MaxFilterValues)
	}
	var decoded []any
	for _, v := range vals {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, badQuery("value %s is not JSON", v)
		}
		decoded = append(decoded, x)
	}
	return NewCondition(field, r.Op, decoded...)
}

// NewCondition validates one condition; values are JSON-decoded (string,
// float64, bool).
func NewCondition(field Field, op Op, values ...any) (*Filter, error) {
	f := &Filter{Field: &field, Op: op}
	switch op {
	case OpEq, OpNe, OpIn, OpNotIn:
		if len(values) == 0 {
			return nil, badQuery("%s on %s needs at least one value", op, field.Name)
		}
		if (op == OpEq || op == OpNe) && len(values) != 1 {
			return nil, badQuery("%s takes one value", op)
		}
		for _, v := range values {
			x, err := coerce(field, v)
			if err != nil {
				return nil, err
			}
			f.Values = append(f.Values, x)
		}
	case OpPrefix, OpContains:
		if field.Kind != KindString {
			return nil, badQuery("%s applies to text fields, not %s", op, field.Name)
		}
		s, ok := values[0].(string)
		if !ok || s == "" {
			return nil, badQuery("%s on %s needs a non-empty string", op, field.Name)
		}
		f.Values = []any{s}
	case OpGt, OpGte, OpLt, OpLte, OpBetween:
		want := 1
		if op == OpBetween {
			want = 2
		}
		if len(values) != want {
			return nil, badQuery("%s takes %d value(s)", op, want)
		}
		if field.Kind == KindBool {
			return nil, badQuery("%s does not apply to %s", op, field.Name)
		}
		for _, v := range values {
			x, ok := number(v)
			if !ok {
				return nil, badQuery("%s on %s needs numbers", op, field.Name)
			}
			f.Values = append(f.Values, x)
		}
	case OpClass:
		if field.Name != "status" {
			return nil, badQuery("class applies to status only")
		}
		s, _ := values[0].(string)
		lo, hi, err := statusRange(s)
		if err != nil || lo == hi {
			return nil, badQuery("class %v: want 1xx, 2xx, 3xx, 4xx or 5xx", values[0])
		}
		f.Values = []any{float64(lo), float64(hi)}
	case OpExists:
		b, ok := values[0].(bool)
		if !ok {
			return nil, badQuery("exists takes true or false")
		}
		f.Values = []any{b}
	default:
		return nil, badQuery("unknown operator %q", op)
	}
	return f, nil
}

// coerce turns a JSON value into the field's kind for equality.
func coerce(field Field, v any) (any, error) {
	switch field.Kind {
	case KindNumber:
		if x, ok := number(v); ok {
			return x, nil
		}
	case KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if s, ok := v.(string); ok && (s == "true" || s == "false") {
			return s == "true", nil
		}
	default:
		switch x := v.(type) {
		case string:
			return x, nil
		case float64:
			// Metadata numbers are compared as their JSON text.
			return fmt.Sprint(x), nil
		case bool:
			return fmt.Sprint(x), nil
		}
	}
	return nil, badQuery("value %v does not fit %s (%s)", v, field.Name, field.Kind)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	return 0, false
}

// And combines filters, skipping nils.
func And(fs ...*Filter) *Filter {
	var list []*Filter
	for _, f := range fs {
		if f != nil {
			list = append(list, f)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	return &Filter{And: list}
}

// ParamFields are the fields that also work as plain query parameters
// (status=5xx, route=/orders/{id}, ...): each is an equality, status
// takes a code or a class.
var ParamFields = []string{"status", "route", "method", "user_id", "company_id", "api_id", "stage", "error_type"}

// FilterFromParams reads the plain field parameters and the JSON `filter`
// parameter of a query string, ANDed.
func FilterFromParams(q url.Values) (*Filter, error) {
	var parts []*Filter
	for _, name := range ParamFields {
		s := q.Get(name)
		if s == "" {
			continue
		}
		field, _ := ParseField(name)
		var f *Filter
		var err error
		if name == "status" {
			lo, hi, serr := statusRange(s)
			if serr != nil {
				return nil, serr
			}
			if lo == hi {
				f, err = NewCondition(field, OpEq, float64(lo))
			} else {
				f, err = NewCondition(field, OpClass, s)
			}
		} else {
			f, err = NewCondition(field, OpEq, s)
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, f)
	}
	if s := q.Get("filter"); s != "" {
		f, err := ParseFilter([]byte(s))
		if err != nil {
			return nil, err
		}
		parts = append(parts, f)
	}
	return And(parts...), nil
}

// fields returns the fields a filter refers to.
func (f *Filter) fields(out []Field) []Field {
	if f == nil {
		return out
	}
	for _, s := range f.And {
		out = s.fields(out)
	}
	for _, s := range f.Or {
		out = s.fields(out)
	}
	out = f.Not.fields(out)
	if f.Field != nil {
		out = append(out, *f.Field)
	}
	return out
}
