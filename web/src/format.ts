// Formatting of numbers, times and changes for display. Pure functions:
// format.test.ts pins their output.

import type { Metric } from './types';

const NBSP = '\u00a0';

/** 1234567 → "1,234,567"; null → "–". */
export function formatInt(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '–';
  const neg = n < 0;
  const s = Math.round(Math.abs(n)).toString();
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (i > 0 && (s.length - i) % 3 === 0) out += ',';
    out += s[i];
  }
  return neg ? '-' + out : out;
}

/** 950 → "950", 1234 → "1.2k", 15300 → "15k", 2.5e6 → "2.5M". */
export function formatCompact(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  const units: [number, string][] = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [v, u] of units) {
    // Round first so that 999,950 shows as 1M, not 1000k.
    if (a >= v * 0.99995) {
      const x = n / v;
      const digits = Math.abs(x) < 9.995 ? 1 : 0;
      return trimZero(x.toFixed(digits)) + u;
    }
  }
  return Number.isInteger(n) ? String(n) : trimZero(n.toFixed(1));
}

function trimZero(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** A fraction as a percentage: 0.01234 → "1.23%", 0 → "0%", null → "–". */
export function formatPercent(f: number | null | undefined, digits = 2): string {
  if (f == null || !Number.isFinite(f)) return '–';
  const p = f * 100;
  if (p === 0) return '0%';
  if (Math.abs(p) >= 10) return trimZero(p.toFixed(1)) + '%';
  return trimZero(p.toFixed(digits)) + '%';
}

/** Milliseconds: 0.4 → "0.4 ms", 12.3 → "12 ms", 1530 → "1.53 s", 125000 → "2.1 min". */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '–';
  const a = Math.abs(ms);
  if (a < 1) return trimZero(ms.toFixed(1)) + NBSP + 'ms';
  if (a < 1000) return Math.round(ms) + NBSP + 'ms';
  if (a < 60_000) return trimZero((ms / 1000).toFixed(2)) + NBSP + 's';
  return trimZero((ms / 60_000).toFixed(1)) + NBSP + 'min';
}

/** Seconds as a duration: 45 → "45 s", 5400 → "1.5 h", 172800 → "2 d". */
export function formatSeconds(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '–';
  if (s < 60) return trimZero(s.toFixed(s < 10 ? 1 : 0)) + NBSP + 's';
  if (s < 3600) return trimZero((s / 60).toFixed(1)) + NBSP + 'min';
  if (s < 86400) return trimZero((s / 3600).toFixed(1)) + NBSP + 'h';
  return trimZero((s / 86400).toFixed(1)) + NBSP + 'd';
}

/** Bytes: 512 → "512 B", 2048 → "2 KiB", 5.5 MiB → "5.5 MiB". */
export function formatBytes(b: number | null | undefined): string {
  if (b == null || !Number.isFinite(b)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(Math.round(v)) : trimZero(v.toFixed(1))) + NBSP + units[i];
}

/** Which way a metric is good: latency and errors down, traffic up. */
export function higherIsBetter(m: Metric): boolean | null {
  switch (m) {
    case 'count':
    case 'unique_users':
    case 'unique_companies':
      return true;
    case 'bytes':
      return null;
    default:
      return false;
  }
}

/** The unit family of a metric, for its formatter and axis. */
export function metricKind(m: Metric): 'count' | 'rate' | 'ms' | 'bytes' {
  if (m.startsWith('error_rate')) return 'rate';
  if (m.startsWith('latency_')) return 'ms';
  if (m === 'bytes') return 'bytes';
  return 'count';
}

/** Formats a value of metric m. */
export function formatMetric(m: Metric, v: number | null | undefined): string {
  switch (metricKind(m)) {
    case 'rate':
      return formatPercent(v);
    case 'ms':
      return formatMs(v);
    case 'bytes':
      return formatBytes(v);
  }
  return formatInt(v);
}

export const METRIC_LABELS: Record<Metric, string> = {
  count: 'Requests',
  unique_users: 'Unique users',
  unique_companies: 'Unique companies',
  error_rate: 'Error rate',
  error_rate_4xx: '4xx rate',
  error_rate_5xx: '5xx rate',
  latency_avg: 'Avg latency',
  latency_p50: 'p50 latency',
  latency_p90: 'p90 latency',
  latency_p95: 'p95 latency',
  latency_p99: 'p99 latency',
  bytes: 'Response bytes',
  rejected_at_gateway: 'Rejected at gateway',
};

export interface Change {
  /** "+12.5%", "−3 pp", "new", or "" when there is nothing to compare. */
  text: string;
  dir: 'up' | 'down' | 'flat' | 'none';
  /** Whether the change is good news, bad news, or neither. */
  tone: 'good' | 'bad' | 'neutral';
}

/**
 * The change of a metric against the previous period. Rates change in
 * percentage points; everything else in percent of the previous value.
 */
export function formatChange(m: Metric, cur: number | null | undefined, prev: number | null | undefined): Change {
  if (cur == null || !Number.isFinite(cur) || prev == null || !Number.isFinite(prev)) {
    return { text: '', dir: 'none', tone: 'neutral' };
  }
  let delta: number;
  let text: string;
  if (metricKind(m) === 'rate') {
    delta = (cur - prev) * 100;
    const r = Math.round(delta * 100) / 100;
    text = (r > 0 ? '+' : r < 0 ? '−' : '±') + trimZero(Math.abs(r).toFixed(2)) + NBSP + 'pp';
    delta = r;
  } else {
    if (prev === 0) {
      if (cur === 0) return { text: '±0%', dir: 'flat', tone: 'neutral' };
      return { text: 'new', dir: 'up', tone: tone(m, 1) };
    }
    delta = ((cur - prev) / Math.abs(prev)) * 100;
    const r = Math.abs(delta) >= 10 ? Math.round(delta) : Math.round(delta * 10) / 10;
    text = (r > 0 ? '+' : r < 0 ? '−' : '±') + trimZero(Math.abs(r).toFixed(1)) + '%';
    delta = r;
  }
  const dir = delta > 0 ? 'up' : delta < 0 ? 'down' : 'flat';
  return { text, dir, tone: dir === 'flat' ? 'neutral' : tone(m, delta) };
}

function tone(m: Metric, delta: number): Change['tone'] {
  const hib = higherIsBetter(m);
  if (hib == null) return 'neutral';
  return delta > 0 === hib ? 'good' : 'bad';
}

/** "4xx" for 404, "" for a missing status. */
export function statusClass(status: number | null | undefined): string {
  if (status == null || status < 100 || status > 599) return '';
  return Math.floor(status / 100) + 'xx';
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** An instant in the viewer's (or UTC's) time: "2026-02-01 10:00:05". */
export function formatTime(iso: string | null | undefined, utc = false, ms = false): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const [Y, M, D, h, m, s, f] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${Y}-${pad(M)}-${pad(D)} ${pad(h)}:${pad(m)}:${pad(s)}${ms ? '.' + pad(f, 3) : ''}`;
}

/** "just now", "5 min ago", "3 h ago", "2 d ago", relative to now. */
export function formatAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 0) return 'in the future';
  if (s < 45) return 'just now';
  if (s < 3600) return Math.max(1, Math.round(s / 60)) + NBSP + 'min ago';
  if (s < 86400 * 2) return Math.round(s / 3600) + NBSP + 'h ago';
  return Math.round(s / 86400) + NBSP + 'd ago';
}

/** The period label of a cohort start, for a retention period. */
export function formatCohort(iso: string, period: string): string {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const Y = d.getUTCFullYear();
  const M = pad(d.getUTCMonth() + 1);
  const D = pad(d.getUTCDate());
  if (period === 'month') return `${Y}-${M}`;
  if (period === 'week') return `week of ${Y}-${M}-${D}`;
  return `${Y}-${M}-${D}`;
}

/** A metadata value as one line of text. */
export function formatValue(v: unknown): string {
  if (v == null) return '–';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}
