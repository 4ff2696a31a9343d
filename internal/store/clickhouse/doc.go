// Package clickhouse is Gatescope's ClickHouse store (issue 8, "Scale out on
// ClickHouse"): the store.Store for running many stateless collectors
// against one ClickHouse server or cluster. All state lives in ClickHouse.
//
// The SQL it sends must run on Debian's clickhouse-server 18.16 (the only
// ClickHouse CI can install) and on current ClickHouse releases. The
// compatibility probe in this package's tests pins which features belong to
// that common subset; docs/clickhouse-compat.md records what it observed and
// docs/clickhouse.md how the store uses it.
package clickhouse
