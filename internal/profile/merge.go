// Package profile merges user and company updates the way the Moesif
// update APIs define them: key by key, the update with the later modified
// time wins, and keys an update does not mention are kept. The same rule
// holds for a profile's own fields (a user's company, a company's domain):
// an update that does not set a field never clears it, and an update that
// sets it wins only if no later update set it before.
//
// Updates may arrive in any order (SDK retries, several servers sending
// batches), so the result depends only on the set of updates, not on their
// arrival; between updates with the same modified time, the later arrival
// wins.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrBadUpdate wraps an update whose metadata is not a JSON object. A
// receiver validates metadata first; a store that meets one anyway applies
// the update's fields and skips its metadata rather than fail every later
// write.
var ErrBadUpdate = errors.New("metadata update is not a JSON object")

// Update is one profile update.
type Update struct {
	// Metadata is a JSON object, or empty for none.
	Metadata []byte
	// Fields are the profile's own fields that this update sets, by name
	// ("company_id", "domain"); an empty value means "not set".
	Fields map[string]string
	// At is the update's modified time.
	At time.Time
}

// Merged is the profile after an update.
type Merged struct {
	// Metadata is the merged JSON object, keys sorted.
	Metadata []byte
	// Times is the new per-key modification document, to be stored with
	// the profile and passed back to the next Merge.
	Times []byte
	// Fields holds the fields whose value the update set: those it named
	// and no later update had set. Fields it lost or did not name are
	// absent; the stored value stands.
	Fields map[string]string
}

// times is the stored modification document: Unix milliseconds per
// metadata key and per field. Earlier versions stored the metadata map
// alone, flat; that form is still read.
type times struct {
	Metadata map[string]int64 `json:"metadata"`
	Fields   map[string]int64 `json:"fields,omitempty"`
}

func decodeTimes(doc []byte) (times, error) {
	t := times{Metadata: map[string]int64{}, Fields: map[string]int64{}}
	if len(doc) == 0 {
		return t, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(doc, &raw); err != nil {
		return t, fmt.Errorf("metadata times: %w", err)
	}
	_, hasMeta := raw["metadata"]
	_, hasFields := raw["fields"]
	if !hasMeta && !hasFields {
		// The flat form: every value a number.
		if err := json.Unmarshal(doc, &t.Metadata); err != nil {
			return t, fmt.Errorf("metadata times: %w", err)
		}
		return t, nil
	}
	if err := json.Unmarshal(doc, &t); err != nil {
		return t, fmt.Errorf("metadata times: %w", err)
	}
	if t.Metadata == nil {
		t.Metadata = map[string]int64{}
	}
	if t.Fields == nil {
		t.Fields = map[string]int64{}
	}
	return t, nil
}

// Merge folds u into a stored profile: its metadata (a JSON object) and
// its modification document (from the previous Merge; empty for a new
// profile). Empty inputs mean empty objects. It fails on stored data it
// cannot read, and with ErrBadUpdate (after merging the fields) when u's
// metadata is not an object.
func Merge(current, timesDoc []byte, u Update) (Merged, error) {
	cur := map[string]json.RawMessage{}
	if len(current) > 0 {
		if err := json.Unmarshal(current, &cur); err != nil {
			return Merged{}, fmt.Errorf("current metadata: %w", err)
		}
		if cur == nil { // stored "null"
			cur = map[string]json.RawMessage{}
		}
	}
	ts, err := decodeTimes(timesDoc)
	if err != nil {
		return Merged{}, err
	}
	ms := u.At.UnixMilli()
	out := Merged{Fields: map[string]string{}}
	for name, v := range u.Fields {
		if v == "" {
			continue
		}
		if prev, ok := ts.Fields[name]; ok && prev > ms {
			continue // a later update already set this field
		}
		out.Fields[name] = v
		ts.Fields[name] = ms
	}
	var badUpdate error
	var upd map[string]json.RawMessage
	if len(u.Metadata) > 0 {
		if err := json.Unmarshal(u.Metadata, &upd); err != nil {
			upd, badUpdate = nil, fmt.Errorf("%w: %v", ErrBadUpdate, err)
		}
	}
	for k, v := range upd {
		if prev, ok := ts.Metadata[k]; ok && prev > ms {
			continue // a later update already set this key
		}
		cur[k] = v
		ts.Metadata[k] = ms
	}
	if out.Metadata, err = marshal(cur); err != nil {
		return Merged{}, fmt.Errorf("encode metadata: %w", err)
	}
	if out.Times, err = json.Marshal(ts); err != nil {
		return Merged{}, fmt.Errorf("encode metadata times: %w", err)
	}
	return out, badUpdate
}

// marshal writes v as JSON without escaping <, > and &: metadata is data,
// not HTML, and should read back as it was sent.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
