package duckdb

import "time"

// lastSeenGrain is how far a profile's last-seen time must move before the
// loader writes it again. Without it every load would rewrite every active
// user; with it an active user costs one write a minute. The users and
// companies lists show last-seen times to the minute.
const lastSeenGrain = time.Minute

// profileCache remembers what the users and companies tables hold for
// recently active profiles, so that a load writes only profiles that are
// new or moved. It is owned by the loader (guarded by Store.loadMu) and
// bounded: past maxProfiles entries it starts over, which costs writes,
// never correctness, because the upsert itself keeps the earliest first
// and the latest last.
type profileCache struct {
	max     int
	entries map[cacheKey]cached
}

type cacheKey struct {
	user bool
	profileKey
}

type cached struct{ first, last time.Time }

func newProfileCache(max int) *profileCache {
	return &profileCache{max: max, entries: map[cacheKey]cached{}}
}

// prune drops from m the profiles the table already holds closely enough.
func (c *profileCache) prune(m map[profileKey]*profileAgg, user bool) {
	for k, a := range m {
		e, ok := c.entries[cacheKey{user, k}]
		if ok && !a.first.Before(e.first) && a.last.Sub(e.last) < lastSeenGrain {
			delete(m, k)
		}
	}
}

// commit records what a committed load wrote.
func (c *profileCache) commit(l *loader) {
	if len(c.entries)+len(l.users)+len(l.companies) > c.max {
		c.entries = map[cacheKey]cached{}
	}
	c.record(l.users, true)
	c.record(l.companies, false)
}

func (c *profileCache) record(m map[profileKey]*profileAgg, user bool) {
	for k, a := range m {
		ck := cacheKey{user, k}
		e, ok := c.entries[ck]
		if !ok {
			e = cached{first: a.first, last: a.last}
		}
		if a.first.Before(e.first) {
			e.first = a.first
		}
		if a.last.After(e.last) {
			e.last = a.last
		}
		c.entries[ck] = e
	}
}
