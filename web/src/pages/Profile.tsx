// What user and company pages share: the list page and the profile body.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { get } from '../api';
import { useApp } from '../context';
import { useAsync, useDebounced } from '../hooks';
import { navigate, useLocation } from '../router';
import { toColumns, total } from '../chartdata';
import { formatAgo, formatInt, formatMs, formatPercent, formatTime, formatValue } from '../format';
import type { Event, Stats, TimeSeries, RouteStats } from '../types';
import { RangePicker } from '../components/RangePicker';
import { TimeChart } from '../components/Chart';
import { EventDetail, EventTable } from '../components/EventTable';
import { RouteTable } from '../components/RouteTable';
import { Drawer } from '../components/Drawer';
import { Empty, ErrorBox, Guard, Loading } from '../components/States';
import { Tile } from '../components/Tile';

export interface Column<T> {
  key: string;
  label: string;
  num?: boolean;
  render: (r: T) => ComponentChildren;
  className?: string;
}

export const PAGE_SIZE = 50;

/** A searchable, sortable, paged list whose state lives in the URL. */
export function ProfileList<T>({
  path,
  endpoint,
  itemsKey,
  columns,
  defaultSort,
  placeholder,
  rowKey,
  testid,
}: {
  path: string;
  endpoint: string;
  itemsKey: string;
  columns: Column<T>[];
  defaultSort: string;
  placeholder: string;
  rowKey: (r: T) => string;
  testid: string;
}) {
  const { appId } = useApp();
  const loc = useLocation();
  const p = new URLSearchParams(loc.search);
  const q = p.get('q') ?? '';
  const sort = p.get('sort') ?? defaultSort;
  const order = p.get('order') ?? '';
  const offset = Math.max(0, Number(p.get('offset') ?? 0) || 0);
  const from = p.get('from') ?? '';
  const to = p.get('to') ?? '';
  const go = (patch: Record<string, string>, replace = false) => {
    const n = new URLSearchParams(loc.search);
    for (const [k, v] of Object.entries(patch)) v ? n.set(k, v) : n.delete(k);
    if (!n.get('app')) n.set('app', appId);
    navigate(`${path}?${n.toString()}`, replace);
  };
  const [text, setText] = useState(q);
  const dtext = useDebounced(text, 300);
  useEffect(() => {
    if (dtext !== q) go({ q: dtext, offset: '' }, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dtext]);

  const params = { app_id: appId, q, sort, order, offset: offset || undefined, limit: PAGE_SIZE, from, to };
  const res = useAsync((s) => get<Record<string, unknown> & { total: number }>(endpoint, params, s), [JSON.stringify(params)]);
  const desc = order ? order === 'desc' : !['user_id', 'company_id'].includes(sort);

  return (
    <div data-testid={testid}>
      <div class="toolbar card">
        <div class="toolbar-row">
          <input type="search" class="search" placeholder={placeholder} aria-label={placeholder} data-testid="list-search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
          <RangePicker from={from} to={to} onChange={(f, t) => go({ from: f, to: t, offset: '' })} allowAll />
        </div>
      </div>
      <section class="card">
        <Guard {...res} isEmpty={(d) => (d[itemsKey] as T[]).length === 0} empty={<Empty title={q ? `Nothing matches “${q}”` : 'Nobody yet'}>{q ? 'Try another search.' : 'Profiles appear as traffic arrives.'}</Empty>}>
          {(d) => {
            const items = d[itemsKey] as T[];
            return (
              <>
                <div class="table-meta muted" data-testid="list-total" data-total={d.total}>
                  {formatInt(d.total)} in all · {formatInt(offset + 1)}–{formatInt(offset + items.length)}
                </div>
                <div class="table-wrap">
                  <table class="table" data-testid={`${testid}-table`}>
                    <thead>
                      <tr>
                        {columns.map((c) => (
                          <th
                            key={c.key}
                            class={`sortable ${c.num ? 'num' : ''} ${c.className ?? ''}`}
                            aria-sort={sort === c.key ? (desc ? 'descending' : 'ascending') : undefined}
                            data-testid={`sort-${c.key}`}
                            onClick={() => go({ sort: c.key, order: sort === c.key ? (desc ? 'asc' : 'desc') : '', offset: '' })}
                          >
                            {c.label} {sort === c.key ? (desc ? '▼' : '▲') : ''}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {items.map((r) => (
                        <tr key={rowKey(r)}>
                          {columns.map((c) => (
                            <td key={c.key} class={`${c.num ? 'num' : 'ellipsis'} ${c.className ?? ''}`}>
                              {c.render(r)}
                            </td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <div class="pager">
                  <button type="button" class="btn" disabled={offset === 0} onClick={() => go({ offset: String(Math.max(0, offset - PAGE_SIZE)) })}>
                    ← Previous
                  </button>
                  <button type="button" class="btn" disabled={offset + items.length >= d.total} onClick={() => go({ offset: String(offset + PAGE_SIZE) })}>
                    Next →
                  </button>
                </div>
              </>
            );
          }}
        </Guard>
      </section>
    </div>
  );
}

const fmtCount = (v: number | null) => formatInt(v);

/** The body of a user or company profile. */
export function ProfileBody({
  totals,
  series,
  routes,
  recent,
  metadata,
  errorParams,
  first,
  last,
  children,
}: {
  totals: Stats;
  series: TimeSeries;
  routes: RouteStats[];
  recent: Event[];
  metadata: Record<string, unknown>;
  /** /api/v1/events parameters that select this profile's events. */
  errorParams: Record<string, string>;
  first: string | null;
  last: string | null;
  children?: ComponentChildren;
}) {
  const { appId } = useApp();
  const cols = useMemo(() => toColumns(series), [series]);
  const [open, setOpen] = useState<Event | null>(null);
  const errors = useAsync(
    (s) => get<{ events: Event[] }>('/api/v1/events', { app_id: appId, ...errorParams, limit: 10, filter: JSON.stringify({ field: 'status', op: 'gte', value: 400 }) }, s),
    [appId, JSON.stringify(errorParams)],
  );
  const meta = Object.entries(metadata ?? {});
  return (
    <>
      <div class="tiles">
        <Tile id="requests" label="Requests" value={formatInt(totals.requests)} raw={totals.requests} />
        <Tile id="error_rate" label="Error rate" value={formatPercent(totals.error_rate)} raw={totals.error_rate} />
        <Tile id="errors_4xx" label="4xx" value={formatInt(totals.errors_4xx)} raw={totals.errors_4xx} />
        <Tile id="errors_5xx" label="5xx" value={formatInt(totals.errors_5xx)} raw={totals.errors_5xx} />
        <Tile id="latency_p95" label="p95 latency" value={formatMs(totals.latency_p95)} raw={totals.latency_p95} />
      </div>
      <p class="muted">
        First seen {formatTime(first)} · last seen {formatTime(last)} ({formatAgo(last)})
      </p>
      <section class="card">
        <h2>Activity</h2>
        {cols.series.some((s) => total(s.values) > 0) ? <TimeChart x={cols.x} series={cols.series} kind="bars" format={fmtCount} height={200} testid="profile-chart" /> : <Empty title="No requests in this range" />}
      </section>
      <div class="grid2">
        <section class="card">
          <h2>Top routes</h2>
          {routes.length ? <RouteTable routes={routes} testid="profile-routes" /> : <Empty title="No routes" />}
        </section>
        <section class="card">
          <h2>Metadata</h2>
          {meta.length === 0 ? (
            <Empty title="No metadata" />
          ) : (
            <dl class="kv" data-testid="profile-metadata">
              {meta.map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd class="mono">{formatValue(v)}</dd>
                </div>
              ))}
            </dl>
          )}
        </section>
      </div>
      {children}
      <section class="card">
        <h2>Recent errors</h2>
        {errors.error ? (
          <ErrorBox error={errors.error} retry={errors.reload} />
        ) : !errors.data ? (
          <Loading />
        ) : errors.data.events.length === 0 ? (
          <Empty title="No errors" />
        ) : (
          <EventTable events={errors.data.events} onOpen={setOpen} compact testid="profile-errors" />
        )}
      </section>
      <section class="card">
        <h2>Recent events</h2>
        {recent.length ? <EventTable events={recent} onOpen={setOpen} compact testid="profile-events" /> : <Empty title="No events in this range" />}
      </section>
      {open && (
        <Drawer title={`${open.method ?? ''} ${open.path ?? ''}`} onClose={() => setOpen(null)}>
          <EventDetail event={open} />
        </Drawer>
      )}
    </>
  );
}

/** Range state of a profile page (default: last 7 days). */
export function useProfileRange(path: string): { from: string; to: string; picker: ComponentChildren } {
  const loc = useLocation();
  const { appId } = useApp();
  const p = new URLSearchParams(loc.search);
  const from = p.get('from') ?? '-7d';
  const to = p.get('to') ?? '';
  const picker = (
    <RangePicker
      from={from}
      to={to}
      defFrom="-7d"
      onChange={(f, t) => {
        const n = new URLSearchParams({ app: appId });
        if (f) n.set('from', f);
        if (t) n.set('to', t);
        navigate(`${path}?${n.toString()}`);
      }}
    />
  );
  return { from, to, picker };
}

