// Package apps keeps the registry of apps (tenants) and authenticates the
// application ids that Firehose and Moesif SDKs present.
package apps

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatescope/gatescope/internal/auth"
	"github.com/gatescope/gatescope/internal/store"
)

// ErrInvalidName is returned for an app name that is empty or too long.
var ErrInvalidName = errors.New("app name must be 1 to 200 characters of text")

// Registry caches the store's apps in memory, indexed by the digest of
// their application ids. It is safe for concurrent use.
type Registry struct {
	store store.Store

	mu       sync.RWMutex
	byDigest map[auth.Digest]store.App
	byID     map[string]store.App
	// reloaded is when the cache was last refreshed on a miss: other
	// collectors sharing a ClickHouse store create apps too, but a flood
	// of bad keys must not turn into a flood of store reads.
	reloaded time.Time
}

// NewRegistry loads the apps of st.
func NewRegistry(ctx context.Context, st store.Store) (*Registry, error) {
	r := &Registry{store: st}
	if err := r.reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) reload(ctx context.Context) error {
	list, err := r.store.Apps(ctx)
	if err != nil {
		return fmt.Errorf("load apps: %w", err)
	}
	byDigest := make(map[auth.Digest]store.App, len(list))
	byID := make(map[string]store.App, len(list))
	for _, a := range list {
		byDigest[auth.DigestOf(a.ApplicationID)] = a
		byID[a.ID] = a
	}
	r.mu.Lock()
	r.byDigest, r.byID, r.reloaded = byDigest, byID, time.Now()
	r.mu.Unlock()
	return nil
}

// Create makes a new app with a fresh application id.
func (r *Registry) Create(ctx context.Context, name string) (store.App, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 || !utf8.ValidString(name) {
		return store.App{}, ErrInvalidName
	}
	key, err := auth.NewSecret("gsk_")
	if err != nil {
		return store.App{}, err
	}
	app := store.App{ID: newAppID(), Name: name, ApplicationID: key, Created: time.Now().UTC().Truncate(time.Microsecond)}
	if err := r.store.CreateApp(ctx, app); err != nil {
		return store.App{}, err
	}
	r.mu.Lock()
	r.byDigest[auth.DigestOf(key)] = app
	r.byID[app.ID] = app
	r.mu.Unlock()
	return app, nil
}

// List returns every app, oldest first, secrets included.
func (r *Registry) List(ctx context.Context) ([]store.App, error) {
	return r.store.Apps(ctx)
}

// Get returns one app by its public id.
func (r *Registry) Get(ctx context.Context, id string) (store.App, error) {
	r.mu.RLock()
	a, ok := r.byID[id]
	r.mu.RUnlock()
	if ok {
		return a, nil
	}
	if err := r.reloadIfStale(ctx); err != nil {
		return store.App{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if a, ok := r.byID[id]; ok {
		return a, nil
	}
	return store.App{}, fmt.Errorf("app %q: %w", id, store.ErrNotFound)
}

// Authenticate returns the app whose application id is key. The lookup is
// by digest, so its timing says nothing about the stored secrets.
func (r *Registry) Authenticate(ctx context.Context, key string) (store.App, bool) {
	if key == "" {
		return store.App{}, false
	}
	d := auth.DigestOf(key)
	r.mu.RLock()
	a, ok := r.byDigest[d]
	r.mu.RUnlock()
	if ok {
		return a, true
	}
	if r.reloadIfStale(ctx) != nil {
		return store.App{}, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	a, ok = r.byDigest[d]
	return a, ok
}

func (r *Registry) reloadIfStale(ctx context.Context) error {
	r.mu.RLock()
	fresh := time.Since(r.reloaded) < time.Second
	r.mu.RUnlock()
	if fresh {
		return nil
	}
	return r.reload(ctx)
}

func newAppID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, 12)
	rand.Read(b) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return "app_" + string(b)
}
