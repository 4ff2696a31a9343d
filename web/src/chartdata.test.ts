import { describe, expect, it } from 'vitest';
import { toColumns, total } from './chartdata';

describe('toColumns', () => {
  it('aligns series on the union of buckets and orders status classes', () => {
    const c = toColumns({
      interval: '1h',
      metric: 'count',
      from: '2026-02-01T00:00:00Z',
      to: '2026-02-01T03:00:00Z',
      series: [
        { group: '4xx', points: [{ t: '2026-02-01T01:00:00Z', v: 2 }] },
        {
          group: '2xx',
          points: [
            { t: '2026-02-01T00:00:00Z', v: 10 },
            { t: '2026-02-01T02:00:00Z', v: 7 },
          ],
        },
        { group: null, other: true, points: [{ t: '2026-02-01T02:00:00Z', v: null }] },
      ],
    });
    const h = Date.parse('2026-02-01T00:00:00Z') / 1000;
    expect(c.x).toEqual([h, h + 3600, h + 7200]);
    expect(c.series).toEqual([
      { label: '2xx', values: [10, null, 7] },
      { label: '4xx', values: [null, 2, null] },
      { label: 'other', values: [null, null, null] },
    ]);
    expect(total(c.series[0].values)).toBe(17);
  });
  it('labels a missing group', () => {
    const c = toColumns({ interval: '1d', metric: 'count', from: '', to: '', series: [{ group: null, points: [{ t: '2026-02-01T00:00:00Z', v: 1 }] }] });
    expect(c.series[0].label).toBe('(none)');
  });
});

describe('an answer without data', () => {
  it('has no columns', () => {
    const c = toColumns({ interval: '1h', metric: 'count', from: '', to: '', series: null as unknown as [] });
    expect(c).toEqual({ x: [], series: [] });
  });
});
