import type { FilterRow } from '../state';
import { OP_LABELS } from '../state';
import type { Op } from '../types';
import { useApp } from '../context';

const COMMON_FIELDS = ['route', 'method', 'status', 'status_class', 'user_id', 'company_id', 'path', 'api_id', 'stage', 'error_type', 'latency_ms', 'rejected_at_gateway', 'source'];

const STRING_OPS: Op[] = ['eq', 'ne', 'in', 'not_in', 'prefix', 'contains', 'exists'];
const NUMBER_OPS: Op[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'not_in', 'exists'];

/** The fields offered in filter pickers: the catalogue, common ones first. */
export function useFieldNames(groupOnly = false): string[] {
  const { fields } = useApp();
  const all = fields ? fields.fields.filter((f) => !groupOnly || f.group_by).map((f) => f.name) : COMMON_FIELDS;
  const meta = fields ? fields.metadata_keys.map((k) => 'metadata.' + k) : [];
  const ordered = [...COMMON_FIELDS.filter((f) => all.includes(f)), ...all.filter((f) => !COMMON_FIELDS.includes(f)).sort(), ...meta];
  return [...new Set(ordered)];
}

function opsFor(field: string, type: string | undefined): Op[] {
  if (field === 'status_class') return ['eq', 'ne', 'in'];
  if (field === 'status') return [...NUMBER_OPS, 'class'];
  if (type === 'number') return NUMBER_OPS;
  if (type === 'boolean') return ['eq', 'exists'];
  return STRING_OPS;
}

function placeholder(op: Op, field: string): string {
  if (op === 'in' || op === 'not_in') return 'a, b, c';
  if (op === 'between') return 'low, high';
  if (op === 'exists') return 'true / false';
  if (op === 'class') return '4xx';
  if (field === 'status_class') return '4xx';
  if (field === 'rejected_at_gateway') return 'true';
  return 'value';
}

/** Rows of field / operator / value; the AND of them filters the page. */
export function FilterEditor({ rows, onChange, testid = 'filters', max = 8 }: { rows: FilterRow[]; onChange: (rows: FilterRow[]) => void; testid?: string; max?: number }) {
  const { types } = useApp();
  const names = useFieldNames();
  const set = (i: number, patch: Partial<FilterRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <div class="filters" data-testid={testid}>
      {rows.map((r, i) => {
        const ops = opsFor(r.field, types[r.field]);
        return (
          <div class="filter-row" key={i}>
            <select
              aria-label="Field"
              data-testid={`${testid}-field-${i}`}
              value={r.field}
              onChange={(e) => {
                const field = (e.target as HTMLSelectElement).value;
                const nops = opsFor(field, types[field]);
                set(i, { field, op: nops.includes(r.op) ? r.op : nops[0] });
              }}
            >
              {!names.includes(r.field) && r.field && <option value={r.field}>{r.field}</option>}
              {names.map((n) => (
                <option value={n} key={n}>
                  {n}
                </option>
              ))}
            </select>
            <select aria-label="Operator" data-testid={`${testid}-op-${i}`} value={r.op} onChange={(e) => set(i, { op: (e.target as HTMLSelectElement).value as Op })}>
              {ops.map((o) => (
                <option value={o} key={o}>
                  {OP_LABELS[o] ?? o}
                </option>
              ))}
            </select>
            <input
              aria-label="Value"
              data-testid={`${testid}-value-${i}`}
              value={r.value}
              placeholder={placeholder(r.op, r.field)}
              onInput={(e) => set(i, { value: (e.target as HTMLInputElement).value })}
            />
            <button type="button" class="btn icon" aria-label="Remove condition" onClick={() => onChange(rows.filter((_, j) => j !== i))}>
              ×
            </button>
          </div>
        );
      })}
      {rows.length < max && (
        <button type="button" class="btn link" data-testid={`${testid}-add`} onClick={() => onChange([...rows, { field: 'route', op: 'eq', value: '' }])}>
          + Add condition
        </button>
      )}
    </div>
  );
}
