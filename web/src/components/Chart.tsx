import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color?: string;
}

const PALETTE = ['#4f6bed', '#e8833a', '#2fa37a', '#c94f7c', '#8a63d2', '#d4b02f', '#3aa6c9', '#a0522d', '#7a8b99', '#5c9e3a', '#b04ad0'];

/** The colour of a status class series; others cycle through the palette. */
export function seriesColor(label: string, i: number): string {
  switch (label) {
    case '2xx':
      return '#2fa37a';
    case '3xx':
      return '#4f6bed';
    case '4xx':
      return '#e0a526';
    case '5xx':
      return '#d64545';
    case 'other':
      return '#9aa5b1';
  }
  return PALETTE[i % PALETTE.length];
}

/**
 * A time chart (uPlot): x is Unix seconds. Stacked bars suit counts by
 * group; lines suit rates and latencies.
 */
export function TimeChart({
  x,
  series,
  kind = 'line',
  format,
  height = 240,
  testid,
}: {
  x: number[];
  series: ChartSeries[];
  kind?: 'line' | 'bars';
  format: (v: number | null) => string;
  height?: number;
  testid?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const stacked = kind === 'bars' && series.length > 1;
    // uPlot has no stacking: plot running sums, and show the own value in
    // the legend.
    const data: (number | null)[][] = [x];
    const acc = new Array<number>(x.length).fill(0);
    for (const s of series) {
      if (stacked) {
        data.push(
          s.values.map((v, i) => {
            acc[i] += v ?? 0;
            return acc[i];
          }),
        );
      } else data.push(s.values);
    }
    const bars = uPlot.paths.bars!({ size: [0.8, 40], gap: 1 });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: '#6b7785', grid: { stroke: '#eef1f4' }, ticks: { stroke: '#e3e7eb' } },
        { stroke: '#6b7785', grid: { stroke: '#eef1f4' }, ticks: { stroke: '#e3e7eb' }, size: 64, values: (_u, vals) => vals.map((v) => format(v)) },
      ],
      series: [
        {},
        ...series.map((s, i) => {
          const color = s.color ?? seriesColor(s.label, i);
          const idx = i;
          return {
            label: s.label,
            stroke: color,
            width: kind === 'bars' ? 0 : 2,
            fill: kind === 'bars' ? color : color + '18',
            paths: kind === 'bars' ? bars : undefined,
            points: { show: false },
            spanGaps: false,
            value: (_u: uPlot, _v: number | null, _si: number, di: number | null) => (di == null ? '' : format(series[idx].values[di] ?? null)),
          } as uPlot.Series;
        }),
      ],
    };
    // Stacked: draw the top of the stack first so lower series stay visible.
    if (stacked) {
      const order = opts.series.slice(1).reverse();
      const dataOrder = data.slice(1).reverse();
      opts.series = [opts.series[0], ...order];
      data.splice(1, data.length - 1, ...dataOrder);
    }
    const u = new uPlot(opts, data as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [x, series, kind, height, format]);
  return <div class="chart" ref={host} data-testid={testid} />;
}
