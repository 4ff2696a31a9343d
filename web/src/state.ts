// Query state: what a page shows, kept in the URL so that a view can be
// shared and bookmarked. Each page's state has a parse (URL → state) and a
// serialize (state → URL) that omits defaults, and a request builder
// (state → API parameters). Pure functions: state.test.ts pins them.

import type { Filter, Interval, Metric, Op } from './types';
import { INTERVALS, METRICS, OPS } from './types';

/** One condition picked in a page: field, operator and the typed text. */
export interface FilterRow {
  field: string;
  op: Op;
  value: string;
}

/** Field types the API knows without asking /api/v1/fields. */
export const BUILTIN_TYPES: Record<string, 'string' | 'number' | 'boolean'> = {
  status: 'number',
  response_bytes: 'number',
  latency_ms: 'number',
  integration_latency_ms: 'number',
  rejected_at_gateway: 'boolean',
};

const LIST_OPS: Op[] = ['in', 'not_in', 'between'];

// ---- filters in the URL: f.<field>=<op>:<value>, repeated ----

/** Adds filter rows to params as f.<field>=<op>:<value>. */
export function filtersToParams(rows: FilterRow[], p: URLSearchParams): void {
  for (const r of rows) {
    if (!r.field) continue;
    p.append('f.' + r.field, r.op + ':' + r.value);
  }
}

/** Reads the filter rows of params; malformed ones are dropped. */
export function filtersFromParams(p: URLSearchParams): FilterRow[] {
  const out: FilterRow[] = [];
  p.forEach((v, k) => {
    if (!k.startsWith('f.') || k.length <= 2) return;
    const i = v.indexOf(':');
    const op = (i < 0 ? v : v.slice(0, i)) as Op;
    if (!OPS.includes(op)) return;
    out.push({ field: k.slice(2), op, value: i < 0 ? '' : v.slice(i + 1) });
  });
  return out;
}

function coerce(s: string, type: 'string' | 'number' | 'boolean' | undefined): unknown {
  const t = s.trim();
  if (type === 'number') {
    const n = Number(t);
    return t !== '' && Number.isFinite(n) ? n : t;
  }
  if (type === 'boolean') {
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  return s;
}

/** One row as an API condition, its value typed by the field's type. */
export function rowToFilter(r: FilterRow, types: Record<string, string> = {}): Filter {
  const type = (types[r.field] ?? BUILTIN_TYPES[r.field]) as 'string' | 'number' | 'boolean' | undefined;
  if (r.op === 'exists') return { field: r.field, op: 'exists', value: r.value.trim() !== 'false' };
  if (r.op === 'class') return { field: r.field, op: 'class', value: r.value.trim() };
  if (LIST_OPS.includes(r.op)) {
    const values = r.value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '')
      .map((v) => coerce(v, type));
    return { field: r.field, op: r.op, values };
  }
  return { field: r.field, op: r.op, value: coerce(r.value, type) };
}

/** The AND of rows (and extra conditions), or undefined when empty. */
export function rowsToFilter(rows: FilterRow[], types: Record<string, string> = {}, extra: Filter[] = []): Filter | undefined {
  const parts = rows.filter((r) => r.field && (r.value.trim() !== '' || r.op === 'exists')).map((r) => rowToFilter(r, types));
  parts.push(...extra);
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return { and: parts };
}

/** The event log's free text: a case-sensitive substring of path or user. */
export function textFilter(q: string): Filter | undefined {
  const t = q.trim();
  if (!t) return undefined;
  return {
    or: [
      { field: 'path', op: 'contains', value: t },
      { field: 'user_id', op: 'contains', value: t },
    ],
  };
}

// ---- time ranges ----

const REL = /^-(\d+)(m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The presets offered by the range picker. */
export const RANGE_PRESETS: { label: string; from: string }[] = [
  { label: '1 h', from: '-1h' },
  { label: '24 h', from: '-24h' },
  { label: '7 d', from: '-7d' },
  { label: '30 d', from: '-30d' },
];

/** Presets for cohort analysis, in weeks. */
export const WEEK_PRESETS: { label: string; from: string }[] = [
  { label: '4 w', from: '-4w' },
  { label: '8 w', from: '-8w' },
  { label: '12 w', from: '-12w' },
  { label: '26 w', from: '-26w' },
];

/** Reads a bound as the API does: RFC 3339, "now", or -<n><m|h|d|w>. */
export function parseBound(s: string, now: number): number | null {
  const t = s.trim();
  if (t === '' || t === 'now') return t === 'now' ? now : null;
  const m = REL.exec(t);
  if (m) return now - Number(m[1]) * UNIT_MS[m[2]];
  if (!/^\d{4}-\d{2}-\d{2}T/.test(t)) return null;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

export interface AbsRange {
  from: number;
  to: number;
}

/** Resolves a range against now; defFrom applies when from is empty. */
export function resolveRange(from: string, to: string, now: number, defFrom = '-24h'): AbsRange | null {
  const f = parseBound(from || defFrom, now);
  const t = to ? parseBound(to, now) : now;
  if (f == null || t == null || f >= t) return null;
  return { from: f, to: t };
}

/** The period of the same length just before r. */
export function previousRange(r: AbsRange): AbsRange {
  const len = r.to - r.from;
  return { from: r.from - len, to: r.from };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A short description of a range: "last 24 h" or "2026-02-01 10:00 → …". */
export function describeRange(from: string, to: string, defFrom = '-24h'): string {
  const f = from || defFrom;
  const m = REL.exec(f);
  if (m && (!to || to === 'now')) {
    const unit = { m: 'min', h: 'h', d: 'd', w: 'w' }[m[2]];
    return `last ${m[1]} ${unit}`;
  }
  const short = (s: string) => (s ? s.replace('T', ' ').replace(/:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, ' $2').trim() : 'now');
  return `${short(f)} → ${short(to)}`;
}

// ---- the explorer ----

export type ExplorerView = 'timeseries' | 'segmentation';

export interface ExplorerState {
  view: ExplorerView;
  /** The time series plots metrics[0]; segmentation shows them all. */
  metrics: Metric[];
  interval: Interval;
  groupBy: string[];
  filters: FilterRow[];
  from: string;
  to: string;
  /** Groups (time series) or rows (segmentation); 0 is the API default. */
  limit: number;
  sort: string;
}

export const EXPLORER_DEFAULTS: ExplorerState = {
  view: 'timeseries',
  metrics: ['count'],
  interval: 'auto',
  groupBy: [],
  filters: [],
  from: '-24h',
  to: '',
  limit: 0,
  sort: '',
};

function list(s: string | null): string[] {
  return (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/** URL → explorer state; unknown values fall back to the defaults. */
export function parseExplorer(search: string): ExplorerState {
  const p = new URLSearchParams(search);
  const d = EXPLORER_DEFAULTS;
  const view = p.get('view') === 'segmentation' ? 'segmentation' : 'timeseries';
  const metrics = list(p.get('m')).filter((m): m is Metric => (METRICS as string[]).includes(m));
  const iv = p.get('i') as Interval | null;
  const limit = Number(p.get('limit') ?? '');
  return {
    view,
    metrics: metrics.length ? [...new Set(metrics)] : d.metrics,
    interval: iv && INTERVALS.includes(iv) ? iv : d.interval,
    groupBy: list(p.get('g')).slice(0, 3),
    filters: filtersFromParams(p),
    from: p.get('from') ?? d.from,
    to: p.get('to') ?? d.to,
    limit: Number.isInteger(limit) && limit > 0 ? limit : 0,
    sort: p.get('sort') ?? '',
  };
}

/** Explorer state → URL query (without "?"), defaults left out, keys in a fixed order. */
export function serializeExplorer(s: ExplorerState, app?: string): string {
  const p = new URLSearchParams();
  const d = EXPLORER_DEFAULTS;
  if (app) p.set('app', app);
  if (s.view !== d.view) p.set('view', s.view);
  if (s.metrics.join(',') !== d.metrics.join(',')) p.set('m', s.metrics.join(','));
  if (s.interval !== d.interval) p.set('i', s.interval);
  if (s.groupBy.length) p.set('g', s.groupBy.join(','));
  if (s.from !== d.from) p.set('from', s.from);
  if (s.to !== d.to) p.set('to', s.to);
  if (s.limit > 0) p.set('limit', String(s.limit));
  if (s.sort) p.set('sort', s.sort);
  filtersToParams(s.filters, p);
  return p.toString();
}

export interface Request {
  path: string;
  params: Record<string, string>;
}

/** The API request that answers an explorer view. */
export function explorerRequest(appId: string, s: ExplorerState, types: Record<string, string> = {}): Request {
  const params: Record<string, string> = { app_id: appId };
  if (s.from) params.from = s.from;
  if (s.to) params.to = s.to;
  const f = rowsToFilter(s.filters, types);
  if (f) params.filter = JSON.stringify(f);
  if (s.view === 'timeseries') {
    params.metric = s.metrics[0] ?? 'count';
    params.interval = s.interval;
    if (s.groupBy[0]) params.group_by = s.groupBy[0];
    if (s.limit > 0) params.limit = String(Math.min(s.limit, 50));
    return { path: '/api/v1/metrics/timeseries', params };
  }
  params.metrics = s.metrics.join(',');
  if (s.groupBy.length) params.group_by = s.groupBy.join(',');
  if (s.sort) params.sort = s.sort;
  if (s.limit > 0) params.limit = String(s.limit);
  return { path: '/api/v1/metrics/segmentation', params };
}

// ---- the event log ----

export interface EventsState {
  from: string;
  to: string;
  /** A status class ("4xx") or code ("404"); empty for all. */
  status: string;
  /** Free text searched in path and user id. */
  q: string;
  filters: FilterRow[];
}

export const EVENTS_DEFAULTS: EventsState = { from: '', to: '', status: '', q: '', filters: [] };

export function parseEvents(search: string): EventsState {
  const p = new URLSearchParams(search);
  const status = p.get('status') ?? '';
  return {
    from: p.get('from') ?? '',
    to: p.get('to') ?? '',
    status: /^([1-5]xx|[1-5]\d\d)$/.test(status) ? status : '',
    q: p.get('q') ?? '',
    filters: filtersFromParams(p),
  };
}

export function serializeEvents(s: EventsState, app?: string): string {
  const p = new URLSearchParams();
  if (app) p.set('app', app);
  if (s.from) p.set('from', s.from);
  if (s.to) p.set('to', s.to);
  if (s.status) p.set('status', s.status);
  if (s.q) p.set('q', s.q);
  filtersToParams(s.filters, p);
  return p.toString();
}

/** The event log's query parameters (for /events and /events/stream). */
export function eventsParams(appId: string, s: EventsState, types: Record<string, string> = {}): Record<string, string> {
  const params: Record<string, string> = { app_id: appId };
  if (s.from) params.from = s.from;
  if (s.to) params.to = s.to;
  if (s.status) params.status = s.status;
  const t = textFilter(s.q);
  const f = rowsToFilter(s.filters, types, t ? [t] : []);
  if (f) params.filter = JSON.stringify(f);
  return params;
}

/** A query string from parameters, skipping empty ones. */
export function toQuery(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  return p.toString();
}

// ---- funnels ----

export interface FunnelStepState {
  name: string;
  filters: FilterRow[];
}

export interface FunnelState {
  from: string;
  to: string;
  window: string;
  steps: FunnelStepState[];
}

export const FUNNEL_DEFAULTS: FunnelState = {
  from: '-30d',
  to: '',
  window: '7d',
  steps: [
    { name: '', filters: [{ field: 'route', op: 'eq', value: '' }] },
    { name: '', filters: [{ field: 'route', op: 'eq', value: '' }] },
  ],
};

/** A funnel definition in the URL: one "def" parameter of compact JSON. */
export function serializeFunnel(s: FunnelState, app?: string): string {
  const p = new URLSearchParams();
  if (app) p.set('app', app);
  p.set(
    'def',
    JSON.stringify({
      from: s.from,
      to: s.to || undefined,
      window: s.window,
      steps: s.steps.map((st) => ({ n: st.name || undefined, f: st.filters.map((r) => [r.field, r.op, r.value]) })),
    }),
  );
  return p.toString();
}

export function parseFunnel(search: string): FunnelState {
  const raw = new URLSearchParams(search).get('def');
  if (!raw) return FUNNEL_DEFAULTS;
  try {
    const d = JSON.parse(raw);
    const steps: FunnelStepState[] = (Array.isArray(d.steps) ? d.steps : []).slice(0, 10).map((st: any) => ({
      name: typeof st?.n === 'string' ? st.n : '',
      filters: (Array.isArray(st?.f) ? st.f : [])
        .filter((r: any) => Array.isArray(r) && typeof r[0] === 'string' && OPS.includes(r[1]))
        .map((r: any) => ({ field: r[0], op: r[1], value: String(r[2] ?? '') })),
    }));
    return {
      from: typeof d.from === 'string' ? d.from : FUNNEL_DEFAULTS.from,
      to: typeof d.to === 'string' ? d.to : '',
      window: typeof d.window === 'string' ? d.window : FUNNEL_DEFAULTS.window,
      steps: steps.length >= 2 ? steps : FUNNEL_DEFAULTS.steps,
    };
  } catch {
    return FUNNEL_DEFAULTS;
  }
}

/** The POST /api/v1/funnels body; steps without a condition are an error. */
export function funnelRequest(appId: string, s: FunnelState, types: Record<string, string> = {}): { body?: object; error?: string } {
  const steps = [];
  for (let i = 0; i < s.steps.length; i++) {
    const f = rowsToFilter(s.steps[i].filters, types);
    if (!f) return { error: `Step ${i + 1} needs a condition.` };
    steps.push({ name: s.steps[i].name || stepName(s.steps[i], i), filter: f });
  }
  if (steps.length < 2) return { error: 'A funnel needs at least two steps.' };
  const body: Record<string, unknown> = { app_id: appId, steps, window: s.window };
  if (s.from) body.from = s.from;
  if (s.to) body.to = s.to;
  return { body };
}

/** A step's default name: its conditions, read aloud. */
export function stepName(st: FunnelStepState, i: number): string {
  const parts = st.filters.filter((r) => r.field && r.value).map((r) => `${r.field} ${OP_LABELS[r.op] ?? r.op} ${r.value}`);
  return parts.length ? parts.join(' and ') : `Step ${i + 1}`;
}

export const OP_LABELS: Partial<Record<Op, string>> = {
  eq: '=',
  ne: '≠',
  in: 'in',
  not_in: 'not in',
  prefix: 'starts with',
  contains: 'contains',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  between: 'between',
  class: 'class',
  exists: 'exists',
};

// ---- retention ----

export interface RetentionState {
  from: string;
  to: string;
  period: 'day' | 'week' | 'month';
  first: FilterRow[];
  returning: FilterRow[];
}

export const RETENTION_DEFAULTS: RetentionState = { from: '-8w', to: '', period: 'week', first: [], returning: [] };

export function parseRetention(search: string): RetentionState {
  const p = new URLSearchParams(search);
  const period = p.get('period');
  const rows = (prefix: string) => {
    const q = new URLSearchParams();
    p.forEach((v, k) => {
      if (k.startsWith(prefix + 'f.')) q.append(k.slice(prefix.length), v);
    });
    return filtersFromParams(q);
  };
  return {
    from: p.get('from') ?? RETENTION_DEFAULTS.from,
    to: p.get('to') ?? '',
    period: period === 'day' || period === 'month' ? period : 'week',
    first: rows('first.'),
    returning: rows('ret.'),
  };
}

export function serializeRetention(s: RetentionState, app?: string): string {
  const p = new URLSearchParams();
  if (app) p.set('app', app);
  if (s.from !== RETENTION_DEFAULTS.from) p.set('from', s.from);
  if (s.to) p.set('to', s.to);
  if (s.period !== 'week') p.set('period', s.period);
  for (const r of s.first) if (r.field) p.append('first.f.' + r.field, r.op + ':' + r.value);
  for (const r of s.returning) if (r.field) p.append('ret.f.' + r.field, r.op + ':' + r.value);
  return p.toString();
}

export function retentionRequest(appId: string, s: RetentionState, types: Record<string, string> = {}): object {
  const body: Record<string, unknown> = { app_id: appId, period: s.period };
  if (s.from) body.from = s.from;
  if (s.to) body.to = s.to;
  const first = rowsToFilter(s.first, types);
  const ret = rowsToFilter(s.returning, types);
  if (first) body.first_event = first;
  if (ret) body.returning_event = ret;
  // Cohorts are UTC periods, labelled as such, whatever the viewer's zone.
  body.tz = 'UTC';
  return body;
}
