import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatBytes,
  formatChange,
  formatCohort,
  formatCompact,
  formatInt,
  formatMetric,
  formatMs,
  formatPercent,
  formatSeconds,
  formatTime,
  statusClass,
} from './format';

const NB = '\u00a0';

describe('formatInt', () => {
  it.each([
    [0, '0'],
    [7, '7'],
    [999, '999'],
    [1000, '1,000'],
    [1234567, '1,234,567'],
    [-45210, '-45,210'],
    [12.6, '13'],
    [null, '–'],
    [undefined, '–'],
    [NaN, '–'],
  ])('%s → %s', (n, want) => expect(formatInt(n as number)).toBe(want));
});

describe('formatCompact', () => {
  it.each([
    [950, '950'],
    [1000, '1k'],
    [1234, '1.2k'],
    [15300, '15k'],
    [999_950, '1M'],
    [2_500_000, '2.5M'],
    [3_000_000_000, '3B'],
    [0.25, '0.3'],
  ])('%s → %s', (n, want) => expect(formatCompact(n)).toBe(want));
});

describe('formatPercent', () => {
  it.each([
    [0, '0%'],
    [0.01234, '1.23%'],
    [0.5, '50%'],
    [0.1234, '12.3%'],
    [1, '100%'],
    [0.0001, '0.01%'],
    [null, '–'],
  ])('%s → %s', (f, want) => expect(formatPercent(f as number)).toBe(want));
});

describe('formatMs', () => {
  it.each([
    [0.42, `0.4${NB}ms`],
    [12.3, `12${NB}ms`],
    [999.4, `999${NB}ms`],
    [1530, `1.53${NB}s`],
    [2000, `2${NB}s`],
    [125000, `2.1${NB}min`],
    [null, '–'],
  ])('%s → %s', (ms, want) => expect(formatMs(ms as number)).toBe(want));
});

describe('formatSeconds and formatBytes', () => {
  it.each([
    [4.25, `4.3${NB}s`],
    [45, `45${NB}s`],
    [90, `1.5${NB}min`],
    [5400, `1.5${NB}h`],
    [172800, `2${NB}d`],
  ])('seconds %s → %s', (s, want) => expect(formatSeconds(s)).toBe(want));
  it.each([
    [512, `512${NB}B`],
    [2048, `2${NB}KiB`],
    [5.5 * 1024 * 1024, `5.5${NB}MiB`],
  ])('bytes %s → %s', (b, want) => expect(formatBytes(b)).toBe(want));
});

describe('formatMetric', () => {
  it('picks the formatter by metric family', () => {
    expect(formatMetric('count', 12345)).toBe('12,345');
    expect(formatMetric('error_rate_5xx', 0.02)).toBe('2%');
    expect(formatMetric('latency_p99', 2500)).toBe(`2.5${NB}s`);
    expect(formatMetric('bytes', 1024)).toBe(`1${NB}KiB`);
    expect(formatMetric('rejected_at_gateway', 3)).toBe('3');
  });
});

describe('formatChange', () => {
  it.each([
    // metric, current, previous, text, dir, tone
    ['count', 120, 100, '+20%', 'up', 'good'],
    ['count', 80, 100, '−20%', 'down', 'bad'],
    ['count', 101, 100, '+1%', 'up', 'good'],
    ['count', 1005, 1000, '+0.5%', 'up', 'good'],
    ['count', 100, 100, '±0%', 'flat', 'neutral'],
    ['count', 5, 0, 'new', 'up', 'good'],
    ['count', 0, 0, '±0%', 'flat', 'neutral'],
    ['latency_p95', 150, 100, '+50%', 'up', 'bad'],
    ['latency_p95', 90, 100, '−10%', 'down', 'good'],
    ['error_rate', 0.05, 0.03, `+2${NB}pp`, 'up', 'bad'],
    ['error_rate', 0.0125, 0.025, `−1.25${NB}pp`, 'down', 'good'],
    ['rejected_at_gateway', 10, 20, '−50%', 'down', 'good'],
    ['bytes', 200, 100, '+100%', 'up', 'neutral'],
  ] as const)('%s %s vs %s → %s', (m, cur, prev, text, dir, tone) => {
    expect(formatChange(m, cur, prev)).toEqual({ text, dir, tone });
  });
  it('is empty without both values', () => {
    expect(formatChange('count', null, 5).text).toBe('');
    expect(formatChange('latency_p95', 5, null).dir).toBe('none');
  });
});

describe('times', () => {
  it('formats an instant in UTC', () => {
    expect(formatTime('2026-02-01T10:00:05.123Z', true)).toBe('2026-02-01 10:00:05');
    expect(formatTime('2026-02-01T10:00:05.123Z', true, true)).toBe('2026-02-01 10:00:05.123');
    expect(formatTime(null)).toBe('–');
    expect(formatTime('garbage')).toBe('garbage');
  });
  it('says how long ago', () => {
    const now = Date.parse('2026-02-01T12:00:00Z');
    expect(formatAgo('2026-02-01T11:59:50Z', now)).toBe('just now');
    expect(formatAgo('2026-02-01T11:55:00Z', now)).toBe(`5${NB}min ago`);
    expect(formatAgo('2026-02-01T09:00:00Z', now)).toBe(`3${NB}h ago`);
    expect(formatAgo('2026-01-28T12:00:00Z', now)).toBe(`4${NB}d ago`);
    expect(formatAgo(null, now)).toBe('never');
  });
  it('labels cohorts', () => {
    expect(formatCohort('2026-02-02T00:00:00Z', 'week')).toBe('week of 2026-02-02');
    expect(formatCohort('2026-02-01T00:00:00Z', 'month')).toBe('2026-02');
    expect(formatCohort('2026-02-03T00:00:00Z', 'day')).toBe('2026-02-03');
  });
  it('classes statuses', () => {
    expect(statusClass(404)).toBe('4xx');
    expect(statusClass(200)).toBe('2xx');
    expect(statusClass(null)).toBe('');
    expect(statusClass(42)).toBe('');
  });
});
