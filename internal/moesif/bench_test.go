package moesif_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// batchSize is moesif-nodejs's default batch.
const batchSize = 200

// sdkBatch is one gzipped /v1/events/batch body of distinct events, as the
// Node SDK sends it.
func sdkBatch(b *testing.B, round int) []byte {
	evs := make([]any, batchSize)
	for i := range evs {
		ev := sdkEvent(i%60, fmt.Sprintf("user-%d", i%50))
		ev["transaction_id"] = fmt.Sprintf("tx-%d-%d", round, i)
		ev["metadata"] = map[string]any{"plan": "pro", "region": "eu-west-1"}
		evs[i] = ev
	}
	raw, err := json.Marshal(evs)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	zw.Close()
	return buf.Bytes()
}

// BenchmarkEventsBatch measures the SDK path end to end: gzipped batches
// of 200 events over loopback HTTP, decode, spool fsync, 201, and the load
// into DuckDB, timed until every row is committed.
func BenchmarkEventsBatch(b *testing.B) {
	e := start(b)
	bodies := make([][]byte, 16)
	for i := range bodies {
		bodies[i] = sdkBatch(b, i)
	}
	client := &http.Client{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(bodies) == 0 {
			// Ids repeat once the bodies cycle: a fresh app keeps them new.
			e.appID, e.key = e.createApp(fmt.Sprintf("bench-%d", i))
		}
		req, _ := http.NewRequest(http.MethodPost, e.base+"/v1/events/batch", bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("X-Moesif-Application-Id", e.key)
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	e.flush()
	b.StopTimer()
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
}
