import type { Change } from '../format';

/** A headline number with its change against the previous period. */
export function Tile({ id, label, value, raw, change }: { id: string; label: string; value: string; raw: number | null | undefined; change?: Change }) {
  return (
    <div class="tile" data-testid={`tile-${id}`} data-value={raw == null ? '' : String(raw)}>
      <div class="tile-label">{label}</div>
      <div class="tile-value">{value}</div>
      {change && change.text && (
        <div class={`tile-change ${change.tone}`} title="Against the previous period of the same length" data-testid={`change-${id}`}>
          {change.dir === 'up' ? '▲ ' : change.dir === 'down' ? '▼ ' : ''}
          {change.text} <span class="muted">vs previous</span>
        </div>
      )}
    </div>
  );
}
