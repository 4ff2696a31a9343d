package duckdb

import (
	"database/sql/driver"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/gatescope/gatescope/internal/query/rollup"
)

// idRow is a row of rollup.RequestIDs; app indexes rollups.apps.
type idRow struct {
	app  int32
	h    uint32
	hour int64
}

// addID records an event's request-id hash. app and id may alias a spool
// frame: the app is cloned once per load, the id only hashed.
func (r *rollups) addID(app string, hour int64, id string) {
	if r.lastApp < 0 || r.apps[r.lastApp] != app {
		i, ok := r.appIndex[app]
		if !ok {
			i = int32(len(r.apps))
			r.apps = append(r.apps, strings.Clone(app))
			r.appIndex[r.apps[i]] = i
		}
		r.lastApp = i
	}
	r.ids = append(r.ids, idRow{app: r.lastApp, h: r.hasher.Hash(validText(id)), hour: hour})
}

func appendIDs(dc driver.Conn, rows []idRow, apps []string) error {
	if len(rows) == 0 {
		return nil
	}
	app, err := duckdb.NewAppenderFromConn(dc, "", rollup.RequestIDs)
	if err != nil {
		return err
	}
	var hour int64 = -1
	var t time.Time
	for _, r := range rows {
		if r.hour != hour {
			hour, t = r.hour, time.Unix(r.hour, 0).UTC()
		}
		if err := app.AppendRow(validText(apps[r.app]), t, r.h); err != nil {
			app.Close()
			return err
		}
	}
	return app.Close()
}
