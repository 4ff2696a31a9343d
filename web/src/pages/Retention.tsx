import { useEffect, useMemo, useState } from 'preact/hooks';
import { post } from '../api';
import { useApp } from '../context';
import { useAsync, useDebounced } from '../hooks';
import { navigate, useLocation } from '../router';
import { WEEK_PRESETS, parseRetention, retentionRequest, serializeRetention, type FilterRow, type RetentionState } from '../state';
import { formatCohort, formatInt, formatPercent } from '../format';
import type { Retention } from '../types';
import { PageHeader } from '../components/Layout';
import { RangePicker } from '../components/RangePicker';
import { FilterEditor } from '../components/FilterEditor';
import { Empty, Guard } from '../components/States';

export function RetentionPage() {
  const { appId, types } = useApp();
  const loc = useLocation();
  const st = useMemo(() => parseRetention(loc.search), [loc.search]);
  const set = (patch: Partial<RetentionState>, replace = false) => navigate('/retention?' + serializeRetention({ ...st, ...patch }, appId), replace);
  const [first, setFirst] = useState<FilterRow[]>(st.first);
  const [ret, setRet] = useState<FilterRow[]>(st.returning);
  const dfirst = useDebounced(first, 500);
  const dret = useDebounced(ret, 500);
  useEffect(() => {
    const next = serializeRetention({ ...st, first: dfirst, returning: dret }, appId);
    if (next !== serializeRetention(st, appId)) navigate('/retention?' + next, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dfirst, dret]);

  const body = useMemo(() => retentionRequest(appId, st, types), [appId, st, types]);
  const res = useAsync((s) => post<Retention>('/api/v1/retention', body, s), [JSON.stringify(body)]);

  return (
    <div data-testid="page-retention">
      <PageHeader title="Retention" />
      <div class="card toolbar">
        <div class="toolbar-row">
          <RangePicker from={st.from} to={st.to} defFrom="-8w" presets={WEEK_PRESETS} onChange={(from, to) => set({ from, to })} />
          <div class="seg-buttons" role="group" aria-label="Period">
            {(['day', 'week', 'month'] as const).map((p) => (
              <button type="button" key={p} class={st.period === p ? 'on' : ''} onClick={() => set({ period: p })}>
                {p}
              </button>
            ))}
          </div>
        </div>
        <div class="grid2">
          <div>
            <h3>First event (joins the cohort)</h3>
            <p class="muted small">Any event when empty.</p>
            <FilterEditor rows={first} onChange={setFirst} testid="retention-first" max={4} />
          </div>
          <div>
            <h3>Returning event</h3>
            <p class="muted small">Any event when empty.</p>
            <FilterEditor rows={ret} onChange={setRet} testid="retention-returning" max={4} />
          </div>
        </div>
      </div>
      <section class="card">
        <Guard {...res} isEmpty={(d) => !d.cohorts?.length || d.cohorts.every((c) => c.users === 0)} empty={<Empty title="No cohorts in this range">Widen the range, or loosen the first event.</Empty>}>
          {(d) => <Heatmap r={d} />}
        </Guard>
      </section>
    </div>
  );
}

/** Cohorts down, periods since joining across; shade is the retention rate. */
export function Heatmap({ r }: { r: Retention }) {
  const periods = Math.max(0, ...r.cohorts.map((c) => c.retained.length));
  const cols = Array.from({ length: periods }, (_, i) => i);
  return (
    <div class="table-wrap">
      <table class="table heatmap" data-testid="retention-heatmap">
        <thead>
          <tr>
            <th>Cohort ({r.period}, UTC)</th>
            <th class="num">Users</th>
            {cols.map((i) => (
              <th key={i} class="num">
                {r.period} {i}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {r.cohorts.map((c) => (
            <tr key={c.start} data-users={c.users}>
              <td class="nowrap">{formatCohort(c.start, r.period)}</td>
              <td class="num">{formatInt(c.users)}</td>
              {cols.map((i) => {
                const cell = c.retained.find((x) => x.period === i);
                if (!cell) return <td key={i} class="num empty-cell" />;
                if (c.users === 0)
                  return (
                    <td key={i} class="num empty-cell muted">
                      –
                    </td>
                  );
                const a = Math.min(1, Math.max(0, cell.rate));
                return (
                  <td
                    key={i}
                    class="num cell"
                    title={`${formatInt(cell.users)} of ${formatInt(c.users)} users`}
                    style={{ background: `rgba(79, 107, 237, ${0.08 + 0.82 * a})`, color: a > 0.5 ? '#fff' : undefined }}
                  >
                    {formatPercent(cell.rate, 1)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
