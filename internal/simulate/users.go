package simulate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatescope/gatescope/internal/simulate/traffic"
)

// usersBatchSize bounds one users-API request.
const usersBatchSize = 500

// linker sends users' company links to Moesif's users API
// (POST /v1/users/batch), before their traffic.
type linker struct {
	url, key string
	client   *http.Client
	pending  []traffic.UserLink
	since    time.Time
	sent     int
}

func newLinker(url, key string, client *http.Client) *linker {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &linker{url: url, key: key, client: client}
}

// sendExisting sends the links of every user who exists at start; for a
// backfill, of every user (their modified time is their sign-up, all in
// the past). A live run sends the others as they sign up.
func (l *linker) sendExisting(ctx context.Context, m *traffic.Model, start time.Time, live bool) error {
	for i, link := range m.UserLinks() {
		if !live || !m.Users()[i].Signup.After(start) {
			l.queue(link)
		}
	}
	return l.flush(ctx)
}

func (l *linker) queue(link traffic.UserLink) {
	if len(l.pending) == 0 {
		l.since = time.Now()
	}
	l.pending = append(l.pending, link)
}

// flushIfDue sends queued links once a second or when a batch is full.
func (l *linker) flushIfDue(ctx context.Context, now time.Time) error {
	if len(l.pending) >= usersBatchSize || (len(l.pending) > 0 && now.Sub(l.since) >= time.Second) {
		return l.flush(ctx)
	}
	return nil
}

func (l *linker) flush(ctx context.Context) error {
	for len(l.pending) > 0 {
		n := min(len(l.pending), usersBatchSize)
		if err := l.post(ctx, l.pending[:n]); err != nil {
			return err
		}
		l.sent += n
		l.pending = l.pending[n:]
	}
	l.pending = nil
	return nil
}

type userItem struct {
	UserID       string            `json:"user_id"`
	CompanyID    string            `json:"company_id"`
	Metadata     map[string]string `json:"metadata"`
	ModifiedTime string            `json:"modified_time"`
}

// post sends one batch, retrying transient failures a few times.
func (l *linker) post(ctx context.Context, links []traffic.UserLink) error {
	items := make([]userItem, len(links))
	for i, k := range links {
		items[i] = userItem{UserID: k.UserID, CompanyID: k.CompanyID, Metadata: k.Metadata,
			ModifiedTime: k.Modified.UTC().Format(time.RFC3339Nano)}
	}
	body, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("simulate: encoding users: %w", err)
	}
	var last error
	for attempt := range 4 {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt) * 500 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("simulate: users API: %w", ctx.Err())
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("simulate: users API: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Moesif-Application-Id", l.key)
		resp, err := l.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusTooManyRequests {
			break // the same request would fail again
		}
	}
	return fmt.Errorf("simulate: users API %s: %w", l.url, last)
}
