import { useMemo, useState } from 'preact/hooks';
import { get } from '../api';
import { useApp, href } from '../context';
import { useAsync } from '../hooks';
import { navigate, useLocation } from '../router';
import { iso, previousRange, resolveRange } from '../state';
import { toColumns } from '../chartdata';
import { formatChange, formatInt, formatMetric, formatMs, formatPercent, METRIC_LABELS } from '../format';
import type { Metric, SegRow, Segmentation, TimeSeries } from '../types';
import { PageHeader } from '../components/Layout';
import { RangePicker } from '../components/RangePicker';
import { Tile } from '../components/Tile';
import { TimeChart } from '../components/Chart';
import { Empty, Guard } from '../components/States';

const TILES: Metric[] = ['count', 'unique_users', 'error_rate', 'latency_p95', 'rejected_at_gateway'];
const fmtCount = (v: number | null) => formatInt(v);

interface Data {
  cur: SegRow;
  prev: SegRow;
  series: TimeSeries;
  top: SegRow[];
  users: SegRow[];
  slow: SegRow[];
}

export function Overview() {
  const { appId } = useApp();
  const loc = useLocation();
  const q = new URLSearchParams(loc.search);
  const from = q.get('from') ?? '-24h';
  const to = q.get('to') ?? '';
  // Resolve the range once per view, so that this period, the previous one
  // and every panel cover exactly the same instants.
  const [now, setNow] = useState(() => Date.now());
  const range = useMemo(() => resolveRange(from, to, now), [from, to, now]);

  const data = useAsync<Data>(
    range
      ? async (signal) => {
          const base = { app_id: appId, from: iso(range.from), to: iso(range.to) };
          const prevR = previousRange(range);
          const prev = { app_id: appId, from: iso(prevR.from), to: iso(prevR.to) };
          const metrics = TILES.join(',');
          const seg = (p: Record<string, string>) => get<Segmentation>('/api/v1/metrics/segmentation', p, signal);
          const [cur, pr, series, top, users, slow] = await Promise.all([
            seg({ ...base, metrics }),
            seg({ ...prev, metrics }),
            get<TimeSeries>('/api/v1/metrics/timeseries', { ...base, metric: 'count', group_by: 'status_class' }, signal),
            seg({ ...base, group_by: 'method,route', metrics: 'count,error_rate,latency_p95', sort: '-count', limit: '8' }),
            seg({ ...base, group_by: 'user_id', metrics: 'count,error_rate', sort: '-count', limit: '8', filter: JSON.stringify({ field: 'user_id', op: 'exists', value: true }) }),
            seg({ ...base, group_by: 'method,route', metrics: 'latency_p95,count', sort: '-latency_p95', limit: '8' }),
          ]);
          return { cur: cur.rows[0] ?? {}, prev: pr.rows[0] ?? {}, series, top: top.rows, users: users.rows, slow: slow.rows };
        }
      : null,
    [appId, range?.from, range?.to],
  );
  const cols = useMemo(() => (data.data ? toColumns(data.data.series) : undefined), [data.data]);

  const setRange = (f: string, t: string) => {
    const p = new URLSearchParams(loc.search);
    f && f !== '-24h' ? p.set('from', f) : p.delete('from');
    t ? p.set('to', t) : p.delete('to');
    setNow(Date.now());
    navigate(`/?${p.toString()}`);
  };

  return (
    <div data-testid="page-overview" data-from={range ? iso(range.from) : ''} data-to={range ? iso(range.to) : ''}>
      <PageHeader title="Overview">
        <RangePicker from={from} to={to} onChange={setRange} />
        <button
          type="button"
          class="btn"
          onClick={() => {
            setNow(Date.now());
          }}
        >
          Refresh
        </button>
      </PageHeader>
      {!range && <Empty title="That time range is empty or malformed" />}
      <Guard {...data}>
        {(d) => {
          const n = (r: SegRow, m: Metric) => (r[m] == null ? null : Number(r[m]));
          if (!n(d.cur, 'count') && !n(d.prev, 'count')) {
            return (
              <Empty title="No requests in this period">
                Try a longer range, or check on the <a href={href('/setup', appId)}>set-up page</a> whether data is arriving.
              </Empty>
            );
          }
          return (
            <>
              <div class="tiles">
                {TILES.map((m) => (
                  <Tile key={m} id={m} label={METRIC_LABELS[m]} value={formatMetric(m, n(d.cur, m))} raw={n(d.cur, m)} change={formatChange(m, n(d.cur, m), n(d.prev, m))} />
                ))}
              </div>
              <section class="card">
                <h2>Requests by status</h2>
                {cols && cols.x.length > 0 ? <TimeChart x={cols.x} series={cols.series} kind="bars" format={fmtCount} testid="chart-status" /> : <Empty title="No requests" />}
              </section>
              <div class="grid3">
                <section class="card">
                  <h2>Top routes</h2>
                  <RouteRows rows={d.top} testid="top-routes" value={(r) => formatInt(Number(r.count))} extra={(r) => formatPercent(r.error_rate as number | null)} />
                </section>
                <section class="card">
                  <h2>Top users</h2>
                  <table class="table fixed" data-testid="top-users">
                    <colgroup>
                      <col />
                      <col class="n" />
                      <col class="n" />
                    </colgroup>
                    <tbody>
                      {d.users.map((r) => (
                        <tr key={String(r.user_id)}>
                          <td class="ellipsis">
                            <a href={href('/users/' + encodeURIComponent(String(r.user_id)), appId)}>{String(r.user_id)}</a>
                          </td>
                          <td class="num">{formatInt(Number(r.count))}</td>
                          <td class="num muted">{formatPercent(r.error_rate as number | null)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                  {d.users.length === 0 && <Empty title="No identified users" />}
                </section>
                <section class="card">
                  <h2>Slowest routes (p95)</h2>
                  <RouteRows rows={d.slow} testid="slow-routes" value={(r) => formatMs(r.latency_p95 as number | null)} extra={(r) => formatInt(Number(r.count)) + ' req'} />
                </section>
              </div>
            </>
          );
        }}
      </Guard>
    </div>
  );
}

function RouteRows({ rows, value, extra, testid }: { rows: SegRow[]; value: (r: SegRow) => string; extra: (r: SegRow) => string; testid: string }) {
  const { appId } = useApp();
  if (rows.length === 0) return <Empty title="No routes" />;
  return (
    <table class="table fixed" data-testid={testid}>
      <colgroup>
        <col />
        <col class="n" />
        <col class="n" />
      </colgroup>
      <tbody>
        {rows.map((r, i) => {
          const f = new URLSearchParams();
          if (r.route != null) f.append('f.route', 'eq:' + r.route);
          if (r.method != null) f.append('f.method', 'eq:' + r.method);
          return (
            <tr key={i}>
              <td class="mono ellipsis" title={`${r.method ?? ''} ${r.route ?? ''}`}>
                <a href={href('/events', appId, f.toString())}>
                  <span class="method">{r.method ?? ''}</span> {r.route ?? '(none)'}
                </a>
              </td>
              <td class="num">{value(r)}</td>
              <td class="num muted">{extra(r)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
