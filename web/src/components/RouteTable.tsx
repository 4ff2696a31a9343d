import type { RouteStats } from '../types';
import { formatInt, formatMs, formatPercent } from '../format';

export function RouteTable({ routes, testid }: { routes: RouteStats[]; testid?: string }) {
  return (
    <div class="table-wrap">
      <table class="table" data-testid={testid}>
        <thead>
          <tr>
            <th>Route</th>
            <th class="num">Requests</th>
            <th class="num">Errors</th>
            <th class="num">p95</th>
          </tr>
        </thead>
        <tbody>
          {routes.map((r, i) => (
            <tr key={i}>
              <td class="mono ellipsis">
                <span class="method">{r.method ?? ''}</span> {r.route ?? '–'}
              </td>
              <td class="num">{formatInt(r.requests)}</td>
              <td class="num">{formatPercent(r.error_rate)}</td>
              <td class="num">{formatMs(r.latency_p95)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
