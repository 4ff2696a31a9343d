package firehoseclient

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// BackupPrefix is where Firehose writes HTTP-endpoint data it could not
// deliver, under the S3 backup bucket's (here: BackupDir's) root.
const BackupPrefix = "http-endpoint-failed"

// BackupRecord is one line of a backup object: one record that could not
// be delivered, as Firehose writes them for failed HTTP-endpoint data.
type BackupRecord struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                string `json:"rawData"` // the record's data, base64
}

// backup writes a batch as one object at
// BackupDir/http-endpoint-failed/YYYY/MM/DD/HH/STREAM-VERSION-YYYY-MM-DD-HH-MM-SS-UUID,
// one JSON document per line, and returns its path. The file appears
// whole (written aside, then renamed) so a reader never sees half of it.
func (c *Client) backup(b *batch, attempts int, why *deliveryError) (string, error) {
	now := c.cfg.Now().UTC()
	dir := filepath.Join(c.cfg.BackupDir, BackupPrefix, now.Format("2006"), now.Format("01"), now.Format("02"), now.Format("15"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("firehoseclient: backup folder: %w", err)
	}
	name := c.cfg.StreamName + "-" + strconv.Itoa(c.cfg.StreamVersion) + "-" + now.Format("2006-01-02-15-04-05") + "-" + newRequestID()
	var out []byte
	for i, r := range b.records {
		line, err := json.Marshal(BackupRecord{
			AttemptsMade:           attempts,
			ArrivalTimestamp:       b.arrival[i],
			ErrorCode:              why.code,
			ErrorMessage:           why.message,
			AttemptEndingTimestamp: now.UnixMilli(),
			RawData:                base64.StdEncoding.EncodeToString(r),
		})
		if err != nil {
			return "", fmt.Errorf("firehoseclient: encoding a backup record: %w", err)
		}
		out = append(append(out, line...), '\n')
	}
	tmp, err := os.CreateTemp(dir, ".partial-*")
	if err != nil {
		return "", fmt.Errorf("firehoseclient: backup: %w", err)
	}
	_, werr := tmp.Write(out)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if werr != nil || serr != nil || cerr != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("firehoseclient: writing backup: %w", firstErr(werr, serr, cerr))
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("firehoseclient: backup: %w", err)
	}
	return path, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
