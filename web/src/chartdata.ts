// Turning API answers into chart columns. Pure: chartdata.test.ts pins it.

import type { Series, TimeSeries } from './types';

export interface Columns {
  /** Bucket starts, Unix seconds, ascending. */
  x: number[];
  series: { label: string; values: (number | null)[] }[];
}

/** A series' label: its group, "(none)" for events without the field. */
export function groupLabel(s: Series): string {
  if (s.other) return 'other';
  return s.group ?? '(none)';
}

/** Aligns every series on the union of their buckets; a missing bucket is null. */
export function toColumns(ts: TimeSeries): Columns {
  // An API answer with no data may carry series: null.
  const all = ts.series ?? [];
  const times = new Set<number>();
  for (const s of all) for (const p of s.points ?? []) times.add(Date.parse(p.t));
  const x = [...times].filter((t) => !Number.isNaN(t)).sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const series = all.map((s) => {
    const values = new Array<number | null>(x.length).fill(null);
    for (const p of s.points ?? []) {
      const i = index.get(Date.parse(p.t));
      if (i !== undefined) values[i] = p.v;
    }
    return { label: groupLabel(s), values };
  });
  // Status classes read best in their natural order.
  if (series.every((s) => /^[1-5]xx$|^other$|^\(none\)$/.test(s.label))) series.sort((a, b) => a.label.localeCompare(b.label));
  return { x: x.map((t) => t / 1000), series };
}

/** The sum of a series' values (nulls skipped). */
export function total(values: (number | null)[]): number {
  let t = 0;
  for (const v of values) if (v != null) t += v;
  return t;
}
