import { useState } from 'preact/hooks';
import { RANGE_PRESETS, describeRange } from '../state';

function toLocalInput(s: string): string {
  if (!s || s.startsWith('-') || s === 'now') return '';
  const d = new Date(s);
  if (isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(s: string): string {
  if (!s) return '';
  const d = new Date(s);
  return isNaN(d.getTime()) ? '' : d.toISOString();
}

/** Presets (last hour … 30 days) and a custom absolute range. */
export function RangePicker({
  from,
  to,
  onChange,
  defFrom = '-24h',
  allowAll = false,
  presets = RANGE_PRESETS,
}: {
  from: string;
  to: string;
  onChange: (from: string, to: string) => void;
  defFrom?: string;
  /** Offer "all time" (an empty from), for endpoints without a default. */
  allowAll?: boolean;
  presets?: { label: string; from: string }[];
}) {
  const [custom, setCustom] = useState(false);
  const cur = from || (allowAll ? '' : defFrom);
  return (
    <div class="range" data-testid="range">
      <div class="seg-buttons" role="group" aria-label="Time range">
        {allowAll && (
          <button type="button" class={!from && !to ? 'on' : ''} onClick={() => onChange('', '')}>
            All
          </button>
        )}
        {presets.map((p) => (
          <button type="button" key={p.from} class={cur === p.from && !to ? 'on' : ''} onClick={() => onChange(p.from, '')}>
            {p.label}
          </button>
        ))}
        <button type="button" class={custom || (to && !to.startsWith('-')) ? 'on' : ''} onClick={() => setCustom(!custom)}>
          Custom
        </button>
      </div>
      {custom && (
        <div class="range-custom">
          <label>
            From{' '}
            <input type="datetime-local" value={toLocalInput(from)} onChange={(e) => onChange(fromLocalInput((e.target as HTMLInputElement).value), to)} />
          </label>
          <label>
            To{' '}
            <input type="datetime-local" value={toLocalInput(to)} onChange={(e) => onChange(from, fromLocalInput((e.target as HTMLInputElement).value))} />
          </label>
        </div>
      )}
      <span class="muted range-desc">{!from && !to && allowAll ? 'all time' : describeRange(from, to, defFrom)}</span>
    </div>
  );
}
