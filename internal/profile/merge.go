// Package profile merges user and company metadata the way the Moesif
// update APIs define it: key by key, the update with the later modified
// time wins, and keys an update does not mention are kept.
package profile

import (
	"encoding/json"
	"fmt"
	"time"
)

// Merge folds update (a JSON object, modified at `at`) into the current
// metadata and its per-key modification times (a JSON object of key to
// Unix milliseconds). It returns the new metadata and times. Empty inputs
// mean empty objects.
func Merge(current, times, update []byte, at time.Time) (meta, newTimes []byte, err error) {
	cur := map[string]json.RawMessage{}
	if len(current) > 0 {
		if err := json.Unmarshal(current, &cur); err != nil {
			return nil, nil, fmt.Errorf("current metadata: %w", err)
		}
	}
	ts := map[string]int64{}
	if len(times) > 0 {
		if err := json.Unmarshal(times, &ts); err != nil {
			return nil, nil, fmt.Errorf("metadata times: %w", err)
		}
	}
	upd := map[string]json.RawMessage{}
	if len(update) > 0 {
		if err := json.Unmarshal(update, &upd); err != nil {
			return nil, nil, fmt.Errorf("metadata update is not a JSON object: %w", err)
		}
	}
	ms := at.UnixMilli()
	for k, v := range upd {
		if prev, ok := ts[k]; ok && prev > ms {
			continue // a later update already set this key
		}
		cur[k] = v
		ts[k] = ms
	}
	if meta, err = json.Marshal(cur); err != nil {
		return nil, nil, fmt.Errorf("encode metadata: %w", err)
	}
	if newTimes, err = json.Marshal(ts); err != nil {
		return nil, nil, fmt.Errorf("encode metadata times: %w", err)
	}
	return meta, newTimes, nil
}
