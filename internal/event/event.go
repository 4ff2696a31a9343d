// Package event defines the event that every receiver produces and every
// store keeps: one API call, as PRODUCT.md section 7 describes it.
package event

import "time"

// Source says how an event reached Gatescope.
type Source string

// The sources an event can come from.
const (
	SourceFirehose   Source = "firehose"   // REST API access log delivered straight to Firehose
	SourceCloudWatch Source = "cloudwatch" // HTTP or WebSocket API log forwarded by a CloudWatch Logs subscription
	SourceSDK        Source = "sdk"        // a Moesif-compatible SDK or script
)

// Absent marks a numeric field that the log line did not carry. Stores write
// it as NULL. HTTP statuses, byte counts and latencies are never negative, so
// the sentinel cannot collide with a real value.
const Absent = -1

// Event is one API call. String fields are empty when absent; numeric fields
// hold Absent when absent.
//
// Metadata is a JSON object (or nil for none) holding every log key that has
// no column of its own, plus batch-level attributes; it is stored verbatim.
type Event struct {
	AppID     string
	RequestID string
	Time      time.Time // UTC
	// Received is when Gatescope accepted the batch; it drives deduplication
	// windows and "last data" indicators, never analytics.
	Received time.Time

	APIID    string
	Stage    string
	Method   string
	Path     string
	Route    string
	Host     string
	Protocol string

	Status               int     // HTTP status, Absent if not logged
	ResponseBytes        int64   // Absent if not logged
	LatencyMs            float64 // Absent if not logged
	IntegrationLatencyMs float64 // Absent if not logged; Absent also when no integration ran

	IP        string
	UserAgent string

	UserID            string
	CompanyID         string
	APIKeyID          string
	PrincipalID       string
	CognitoIdentityID string
	Caller            string
	UserARN           string

	ErrorMessage string
	ErrorType    string

	Source   Source
	Metadata []byte
}

// Rejected is an input record that could not become an event. It is kept
// verbatim so that an operator can see, fix and replay it.
type Rejected struct {
	AppID    string
	Received time.Time
	Source   Source
	Reason   string
	// BatchID is the delivery's request id (Firehose's X-Amz-Firehose-Request-Id),
	// so a rejected record can be traced back to its batch.
	BatchID string
	Raw     []byte
}

// UserUpdate sets a user's profile: the company it belongs to and metadata.
// Metadata merges key by key; for each key, the update with the later
// Modified time wins.
type UserUpdate struct {
	AppID     string
	UserID    string
	CompanyID string
	Metadata  []byte // JSON object or nil
	Modified  time.Time
}

// CompanyUpdate sets a company's profile.
type CompanyUpdate struct {
	AppID     string
	CompanyID string
	Domain    string
	Metadata  []byte // JSON object or nil
	Modified  time.Time
}
