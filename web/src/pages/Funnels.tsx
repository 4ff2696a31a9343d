import { useEffect, useMemo, useState } from 'preact/hooks';
import { post } from '../api';
import { useApp } from '../context';
import { navigate, useLocation } from '../router';
import { FUNNEL_DEFAULTS, funnelRequest, parseFunnel, serializeFunnel, type FunnelState } from '../state';
import { formatInt, formatPercent, formatSeconds } from '../format';
import type { Funnel, FunnelStep } from '../types';
import { PageHeader } from '../components/Layout';
import { RangePicker } from '../components/RangePicker';
import { FilterEditor } from '../components/FilterEditor';
import { Empty, ErrorBox, Loading } from '../components/States';

const WINDOWS = ['30m', '1h', '24h', '7d', '30d'];

export function Funnels() {
  const { appId, types } = useApp();
  const loc = useLocation();
  const saved = useMemo(() => parseFunnel(loc.search), [loc.search]);
  const [st, setSt] = useState<FunnelState>(saved);
  const [run, setRun] = useState<{ loading: boolean; error?: Error; data?: Funnel; invalid?: string }>({ loading: false });

  const execute = async (s: FunnelState) => {
    const r = funnelRequest(appId, s, types);
    if (r.error) return setRun({ loading: false, invalid: r.error });
    navigate('/funnels?' + serializeFunnel(s, appId), true);
    setRun({ loading: true });
    try {
      setRun({ loading: false, data: await post<Funnel>('/api/v1/funnels', r.body) });
    } catch (e) {
      setRun({ loading: false, error: e as Error });
    }
  };
  // A shared link carries its definition: show its answer straight away.
  useEffect(() => {
    if (new URLSearchParams(loc.search).has('def')) execute(saved);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const setStep = (i: number, patch: Partial<FunnelState['steps'][number]>) => setSt({ ...st, steps: st.steps.map((s, j) => (j === i ? { ...s, ...patch } : s)) });

  return (
    <div data-testid="page-funnels">
      <PageHeader title="Funnels" />
      <form
        class="card funnel-builder"
        data-testid="funnel-builder"
        onSubmit={(e) => {
          e.preventDefault();
          execute(st);
        }}
      >
        <div class="toolbar-row">
          <RangePicker from={st.from} to={st.to} defFrom="-30d" onChange={(from, to) => setSt({ ...st, from, to })} />
          <label>
            Conversion window{' '}
            <select value={st.window} data-testid="funnel-window" onChange={(e) => setSt({ ...st, window: (e.target as HTMLSelectElement).value })}>
              {[...new Set([...WINDOWS, st.window])].map((w) => (
                <option key={w} value={w}>
                  {w}
                </option>
              ))}
            </select>
          </label>
        </div>
        <ol class="steps">
          {st.steps.map((s, i) => (
            <li key={i} class="step" data-testid={`funnel-step-${i}`}>
              <div class="step-head">
                <span class="step-no">{i + 1}</span>
                <input
                  class="step-name"
                  placeholder={`Step ${i + 1} name (optional)`}
                  aria-label={`Step ${i + 1} name`}
                  value={s.name}
                  onInput={(e) => setStep(i, { name: (e.target as HTMLInputElement).value })}
                />
                {st.steps.length > 2 && (
                  <button type="button" class="btn icon" aria-label={`Remove step ${i + 1}`} onClick={() => setSt({ ...st, steps: st.steps.filter((_, j) => j !== i) })}>
                    ×
                  </button>
                )}
              </div>
              <FilterEditor rows={s.filters} onChange={(filters) => setStep(i, { filters })} testid={`step-${i}-filters`} max={4} />
            </li>
          ))}
        </ol>
        <div class="toolbar-row">
          {st.steps.length < 10 && (
            <button type="button" class="btn" data-testid="add-step" onClick={() => setSt({ ...st, steps: [...st.steps, { name: '', filters: [{ field: 'route', op: 'eq', value: '' }] }] })}>
              + Add step
            </button>
          )}
          <button type="button" class="btn ghost" onClick={() => setSt(FUNNEL_DEFAULTS)}>
            Reset
          </button>
          <button type="submit" class="btn primary" data-testid="run-funnel" disabled={run.loading}>
            {run.loading ? 'Computing…' : 'Compute funnel'}
          </button>
        </div>
        {run.invalid && <p class="error-text">{run.invalid}</p>}
      </form>
      <section class="card">
        {run.error ? (
          <ErrorBox error={run.error} retry={() => execute(st)} />
        ) : run.loading ? (
          <Loading label="Computing the funnel…" />
        ) : !run.data ? (
          <Empty title="Build a funnel">Pick at least two steps — for example a sign-up route, then a first order — and compute it.</Empty>
        ) : run.data.steps[0]?.users === 0 ? (
          <Empty title="Nobody did the first step in this range" />
        ) : (
          <FunnelChart funnel={run.data} />
        )}
      </section>
    </div>
  );
}

export function FunnelChart({ funnel }: { funnel: Funnel }) {
  const top = funnel.steps[0]?.users || 1;
  return (
    <div class="funnel" data-testid="funnel-chart">
      <p class="muted">Users who did each step in order, within {formatSeconds(funnel.window_seconds)} of the first.</p>
      {funnel.steps.map((s: FunnelStep, i) => (
        <div class="funnel-step" key={i} data-testid={`funnel-result-${i}`} data-users={s.users}>
          <div class="funnel-label">
            <strong>
              {i + 1}. {s.name}
            </strong>
            <span class="muted">
              {i > 0 && <>{formatPercent(s.conversion_from_previous)} of previous · </>}
              {s.median_seconds_from_previous != null && i > 0 && <>median {formatSeconds(s.median_seconds_from_previous)} · </>}
              {formatPercent(s.conversion_from_first)} of first
            </span>
          </div>
          <div class="funnel-track">
            <div class="funnel-bar" style={{ width: `${Math.max(0.5, (100 * s.users) / top)}%` }} />
            <span class="funnel-users">{formatInt(s.users)} users</span>
          </div>
        </div>
      ))}
    </div>
  );
}
