import { useEffect, useMemo, useState } from 'preact/hooks';
import { get } from '../api';
import { useApp } from '../context';
import { useAsync, useDebounced } from '../hooks';
import { navigate, useLocation } from '../router';
import { explorerRequest, parseExplorer, serializeExplorer, type ExplorerState, type FilterRow } from '../state';
import { toColumns, total } from '../chartdata';
import { formatMetric, METRIC_LABELS, metricKind } from '../format';
import { INTERVALS, METRICS, type Metric, type Segmentation, type TimeSeries } from '../types';
import { PageHeader } from '../components/Layout';
import { RangePicker } from '../components/RangePicker';
import { FilterEditor, useFieldNames } from '../components/FilterEditor';
import { TimeChart, seriesColor } from '../components/Chart';
import { Empty, Guard } from '../components/States';
import { CopyButton } from '../components/Copy';

// uPlot redraws when format changes identity: one function per metric.
const formatters = Object.fromEntries(METRICS.map((m) => [m, (v: number | null) => formatMetric(m, v)])) as Record<Metric, (v: number | null) => string>;

export function Explorer() {
  const { appId, types } = useApp();
  const loc = useLocation();
  const st = useMemo(() => parseExplorer(loc.search), [loc.search]);
  const set = (patch: Partial<ExplorerState>) => navigate('/explorer?' + serializeExplorer({ ...st, ...patch }, appId));
  const groupable = useFieldNames(true);

  const [rows, setRows] = useState<FilterRow[]>(st.filters);
  const drows = useDebounced(rows, 400);
  useEffect(() => {
    const next = serializeExplorer({ ...st, filters: drows }, appId);
    if (next !== serializeExplorer(st, appId)) navigate('/explorer?' + next, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [drows]);
  useEffect(() => {
    if (serializeExplorer({ ...st, filters: drows }) !== serializeExplorer(st)) setRows(st.filters);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [loc.search]);

  const req = useMemo(() => explorerRequest(appId, st, types), [appId, st, types]);
  const key = JSON.stringify(req);
  const res = useAsync<TimeSeries | Segmentation>((s) => get(req.path, req.params, s), [key]);
  const metric = st.metrics[0] ?? 'count';

  const toggleMetric = (m: Metric) => {
    if (st.view === 'timeseries') return set({ metrics: [m] });
    const has = st.metrics.includes(m);
    const next = has ? st.metrics.filter((x) => x !== m) : [...st.metrics, m];
    set({ metrics: next.length ? next : [m] });
  };

  return (
    <div data-testid="page-explorer">
      <PageHeader title="Explorer">
        <CopyButton text={window.location.href} label="Copy link to this view" />
      </PageHeader>
      <div class="toolbar card explorer-controls">
        <div class="toolbar-row">
          <div class="seg-buttons" role="group" aria-label="View">
            <button type="button" class={st.view === 'timeseries' ? 'on' : ''} data-testid="view-timeseries" onClick={() => set({ view: 'timeseries', metrics: [metric], groupBy: st.groupBy.slice(0, 1), sort: '' })}>
              Time series
            </button>
            <button type="button" class={st.view === 'segmentation' ? 'on' : ''} data-testid="view-segmentation" onClick={() => set({ view: 'segmentation' })}>
              Segmentation
            </button>
          </div>
          <RangePicker from={st.from} to={st.to} onChange={(from, to) => set({ from, to })} />
        </div>
        <div class="toolbar-row">
          {st.view === 'timeseries' ? (
            <label>
              Metric{' '}
              <select data-testid="metric" value={metric} onChange={(e) => toggleMetric((e.target as HTMLSelectElement).value as Metric)}>
                {METRICS.map((m) => (
                  <option key={m} value={m}>
                    {METRIC_LABELS[m]}
                  </option>
                ))}
              </select>
            </label>
          ) : (
            <details class="multi">
              <summary data-testid="metrics">Metrics: {st.metrics.map((m) => METRIC_LABELS[m]).join(', ')}</summary>
              <div class="multi-list">
                {METRICS.map((m) => (
                  <label key={m}>
                    <input type="checkbox" checked={st.metrics.includes(m)} onChange={() => toggleMetric(m)} /> {METRIC_LABELS[m]}
                  </label>
                ))}
              </div>
            </details>
          )}
          {st.view === 'timeseries' && (
            <label>
              Interval{' '}
              <select data-testid="interval" value={st.interval} onChange={(e) => set({ interval: (e.target as HTMLSelectElement).value as ExplorerState['interval'] })}>
                {INTERVALS.map((i) => (
                  <option key={i} value={i}>
                    {i}
                  </option>
                ))}
              </select>
            </label>
          )}
          {(st.view === 'timeseries' ? [0] : [0, 1, 2]).map((i) =>
            i === 0 || st.groupBy.length >= i ? (
              <label key={i}>
                {i === 0 ? 'Group by' : 'then'}{' '}
                <select
                  data-testid={`group-by-${i}`}
                  value={st.groupBy[i] ?? ''}
                  onChange={(e) => {
                    const v = (e.target as HTMLSelectElement).value;
                    const g = [...st.groupBy];
                    if (v) g[i] = v;
                    else g.splice(i);
                    set({ groupBy: g.filter(Boolean), sort: '' });
                  }}
                >
                  <option value="">{i === 0 ? 'nothing' : '—'}</option>
                  {groupable.map((f) => (
                    <option key={f} value={f}>
                      {f}
                    </option>
                  ))}
                </select>
              </label>
            ) : null,
          )}
        </div>
        <FilterEditor rows={rows} onChange={setRows} testid="explorer-filters" />
      </div>
      <section class="card">
        <Guard {...res} isEmpty={(d) => ('series' in d ? !d.series?.some((s) => s.points?.some((p) => p.v)) : !d.rows?.length)} empty={<Empty title="No events match">Widen the range or remove a filter.</Empty>}>
          {(d) => ('series' in d ? <SeriesView ts={d} metric={metric} /> : <SegView seg={d} st={st} onSort={(sort) => set({ sort })} />)}
        </Guard>
      </section>
    </div>
  );
}

function SeriesView({ ts, metric }: { ts: TimeSeries; metric: Metric }) {
  const cols = useMemo(() => toColumns(ts), [ts]);
  const additive = metricKind(metric) === 'count' && metric !== 'unique_users' && metric !== 'unique_companies';
  const kind = additive && cols.series.length > 1 ? 'bars' : 'line';
  return (
    <div data-testid="explorer-series">
      <div class="muted table-meta">
        {METRIC_LABELS[metric]} per {ts.interval}
      </div>
      <TimeChart x={cols.x} series={cols.series} kind={kind} format={formatters[metric]} height={300} testid="explorer-chart" />
      {cols.series.length > 1 || additive ? (
        <table class="table" data-testid="series-table">
          <thead>
            <tr>
              <th>Series</th>
              {additive && <th class="num">Total</th>}
            </tr>
          </thead>
          <tbody>
            {cols.series.map((s, i) => (
              <tr key={s.label}>
                <td>
                  <span class="swatch" style={{ background: seriesColor(s.label, i) }} /> {s.label}
                </td>
                {additive && <td class="num">{formatMetric(metric, total(s.values))}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

function SegView({ seg, st, onSort }: { seg: Segmentation; st: ExplorerState; onSort: (s: string) => void }) {
  const cols = [...st.groupBy, ...st.metrics];
  const sortKey = st.sort.replace(/^-/, '') || st.metrics[0];
  const desc = st.sort ? st.sort.startsWith('-') : true;
  const first = st.metrics[0];
  const max = Math.max(0, ...seg.rows.map((r) => Number(r[first] ?? 0)));
  return (
    <div class="table-wrap">
      <table class="table" data-testid="segmentation-table">
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c} class={st.metrics.includes(c as Metric) ? 'num sortable' : 'sortable'} onClick={() => onSort(sortKey === c && desc ? c : '-' + c)} aria-sort={sortKey === c ? (desc ? 'descending' : 'ascending') : undefined}>
                {METRIC_LABELS[c as Metric] ?? c} {sortKey === c ? (desc ? '▼' : '▲') : ''}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {seg.rows.map((r, i) => (
            <tr key={i}>
              {st.groupBy.map((g) => (
                <td key={g} class="mono ellipsis">
                  {r[g] == null ? <span class="muted">(none)</span> : String(r[g])}
                </td>
              ))}
              {st.metrics.map((m, j) => (
                <td key={m} class="num" data-metric={m} data-value={r[m] == null ? '' : String(r[m])}>
                  {j === 0 && max > 0 && <span class="bar" style={{ width: `${(100 * Number(r[m] ?? 0)) / max}%` }} />}
                  <span class="bar-label">{formatMetric(m, r[m] == null ? null : Number(r[m]))}</span>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
