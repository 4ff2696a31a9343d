import type { Event } from '../types';
import { formatBytes, formatMs, formatTime, formatValue, statusClass } from '../format';
import { useApp, href } from '../context';

export function StatusBadge({ status }: { status: number | null | undefined }) {
  const c = statusClass(status);
  return <span class={`badge s${c.charAt(0) || 'x'}`}>{status ?? '–'}</span>;
}

/** The date part folds away on a phone: the time of day stays. */
function TimeCell({ iso }: { iso: string }) {
  const [d, t] = formatTime(iso).split(' ');
  return (
    <>
      <span class="hide-narrow">{d} </span>
      {t ?? d}
    </>
  );
}

/** Events, newest first; a click opens one. */
export function EventTable({ events, onOpen, compact = false, testid = 'event-table' }: { events: Event[]; onOpen: (e: Event) => void; compact?: boolean; testid?: string }) {
  return (
    <div class="table-wrap">
      <table class="table events" data-testid={testid}>
        <thead>
          <tr>
            <th>Time</th>
            <th>Status</th>
            <th class="hide-narrow">Method</th>
            <th>Path</th>
            {!compact && <th class="hide-narrow">User</th>}
            {!compact && <th class="hide-narrow">Company</th>}
            <th class="num">Latency</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.request_id} class="clickable" data-request-id={e.request_id} onClick={() => onOpen(e)} tabIndex={0} onKeyDown={(k) => k.key === 'Enter' && onOpen(e)}>
              <td class="nowrap mono">
                <TimeCell iso={e.time} />
              </td>
              <td>
                <StatusBadge status={e.status} />
                {e.rejected_at_gateway && (
                  <span class="badge gw" title="Answered by API Gateway without reaching the integration">
                    gateway
                  </span>
                )}
              </td>
              <td class="mono hide-narrow">{e.method ?? '–'}</td>
              <td class="mono ellipsis" title={e.path ?? ''}>
                {e.path ?? '–'}
              </td>
              {!compact && (
                <td class="ellipsis user hide-narrow" title={e.user_id ?? ''}>
                  {e.user_id ?? <span class="muted">anonymous</span>}
                </td>
              )}
              {!compact && <td class="ellipsis hide-narrow">{e.company_id ?? '–'}</td>}
              <td class="num nowrap">{formatMs(e.latency_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const FIELD_ORDER: (keyof Event)[] = [
  'request_id',
  'time',
  'status',
  'method',
  'path',
  'route',
  'user_id',
  'company_id',
  'latency_ms',
  'integration_latency_ms',
  'response_bytes',
  'rejected_at_gateway',
  'error_type',
  'error_message',
  'api_id',
  'stage',
  'host',
  'protocol',
  'ip',
  'user_agent',
  'api_key_id',
  'principal_id',
  'cognito_identity_id',
  'caller',
  'user_arn',
  'source',
  'app_id',
];

function fieldValue(k: keyof Event, e: Event): string {
  const v = e[k];
  if (v == null) return '–';
  switch (k) {
    case 'time':
      return `${formatTime(e.time, false, true)} (${e.time})`;
    case 'latency_ms':
    case 'integration_latency_ms':
      return formatMs(v as number);
    case 'response_bytes':
      return `${formatBytes(v as number)} (${v})`;
  }
  return formatValue(v);
}

/** Every field of an event and its metadata. */
export function EventDetail({ event }: { event: Event }) {
  const { appId } = useApp();
  const keys = [...FIELD_ORDER, ...(Object.keys(event) as (keyof Event)[]).filter((k) => !FIELD_ORDER.includes(k) && k !== 'metadata')];
  const meta = Object.entries(event.metadata ?? {});
  return (
    <div class="event-detail" data-testid="event-detail">
      <dl class="kv">
        {keys.map((k) => (
          <div key={k} data-field={k}>
            <dt>{k}</dt>
            <dd class="mono">
              {k === 'user_id' && event.user_id ? (
                <a href={href('/users/' + encodeURIComponent(event.user_id), appId)}>{event.user_id}</a>
              ) : k === 'company_id' && event.company_id ? (
                <a href={href('/companies/' + encodeURIComponent(event.company_id), appId)}>{event.company_id}</a>
              ) : (
                fieldValue(k, event)
              )}
            </dd>
          </div>
        ))}
      </dl>
      <h3>Metadata</h3>
      {meta.length === 0 ? (
        <p class="muted">No metadata on this event.</p>
      ) : (
        <dl class="kv" data-testid="event-metadata">
          {meta.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd class="mono">{formatValue(v)}</dd>
            </div>
          ))}
        </dl>
      )}
      <details>
        <summary>JSON</summary>
        <pre class="code">{JSON.stringify(event, null, 2)}</pre>
      </details>
    </div>
  );
}
