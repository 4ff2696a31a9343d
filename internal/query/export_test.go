package query

import "context"

// CompanyKeysMapBack reports whether the statement of every company's p95
// over r, grouped by the ids' hashes, maps back to the ids without
// falling back to text keys (hashkeys.go). ClickHouse groups by text:
// false.
func (e *Engine) CompanyKeysMapBack(ctx context.Context, app string, r Range) (bool, error) {
	if e.onClickHouse() {
		return false, nil
	}
	g, _ := ParseField("company_id")
	s := aggSpec{app: app, r: r, groups: []Field{g}, pcts: []int{95}}
	if err := e.setSealed(ctx, &s); err != nil {
		return false, err
	}
	out, ok, err := e.byHashes(ctx, s)
	return ok && len(out) > 0, err
}
