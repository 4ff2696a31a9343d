import { useState } from 'preact/hooks';
import { get, post } from '../api';
import { useApp, href } from '../context';
import { useAsync } from '../hooks';
import { navigate } from '../router';
import { formatAgo, formatInt, formatTime } from '../format';
import type { App, AppStatus, LogFormats } from '../types';
import { PageHeader } from '../components/Layout';
import { CopyButton } from '../components/Copy';
import { Empty, ErrorBox, Guard, Loading } from '../components/States';

const KINDS: { key: keyof LogFormats; label: string; how: string }[] = [
  { key: 'rest', label: 'REST API', how: 'Stage → Logs and tracing → Custom access logging: the destination is the Firehose delivery stream (its name must start with amazon-apigateway-), the log format is this line.' },
  { key: 'http', label: 'HTTP API', how: 'Stage → Access logging to a CloudWatch Logs group with this format; a subscription filter forwards the group to the Firehose delivery stream.' },
  { key: 'websocket', label: 'WebSocket API', how: 'Stage → Access logging to a CloudWatch Logs group with this format; a subscription filter forwards the group to the Firehose delivery stream.' },
];

export function Setup() {
  const { apps, appId, reloadApps } = useApp();
  const app = apps.find((a) => a.app_id === appId);
  return (
    <div data-testid="page-setup">
      <PageHeader title={app ? `Set-up: ${app.name}` : 'Set-up'} />
      {app ? <AppSetup app={app} /> : <Empty title="No apps yet">Create one below: each app keeps its own data and has its own access key.</Empty>}
      <NewApp
        onCreated={(a) => {
          reloadApps();
          navigate(href('/setup', '', 'app=' + encodeURIComponent(a.app_id)));
        }}
      />
    </div>
  );
}

function AppSetup({ app }: { app: App }) {
  const endpoint = `${window.location.origin}/v1/firehose`;
  const [secret, setSecret] = useState<{ loading?: boolean; value?: string; error?: Error }>({});
  const formats = useAsync((s) => get<LogFormats>('/api/v1/log-formats', undefined, s), []);
  const status = useAsync((s) => get<AppStatus>(`/api/v1/apps/${encodeURIComponent(app.app_id)}/status`, undefined, s), [app.app_id]);
  const [kind, setKind] = useState<keyof LogFormats>('rest');
  const https = window.location.protocol === 'https:' && (window.location.port === '' || window.location.port === '443');

  return (
    <>
      <section class="card">
        <h2>1. The app</h2>
        <dl class="kv wide">
          <div>
            <dt>Name</dt>
            <dd>{app.name}</dd>
          </div>
          <div>
            <dt>App id</dt>
            <dd class="mono">{app.app_id}</dd>
          </div>
          <div>
            <dt>Application id (the Firehose access key)</dt>
            <dd class="mono" data-testid="application-id">
              {secret.value ? (
                <>
                  <span data-testid="application-id-value">{secret.value}</span> <CopyButton text={secret.value} />
                </>
              ) : (
                <button
                  type="button"
                  class="btn small"
                  data-testid="show-application-id"
                  disabled={secret.loading}
                  onClick={async () => {
                    setSecret({ loading: true });
                    try {
                      const a = await get<App>(`/api/v1/apps/${encodeURIComponent(app.app_id)}`);
                      setSecret({ value: a.application_id ?? '' });
                    } catch (e) {
                      setSecret({ error: e as Error });
                    }
                  }}
                >
                  {secret.loading ? 'Loading…' : 'Show'}
                </button>
              )}
              {secret.error && <span class="error-text"> {secret.error.message}</span>}
            </dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>{formatTime(app.created_at)}</dd>
          </div>
        </dl>
        <p class="muted small">The application id is a secret: anyone who has it can send data into this app.</p>
      </section>

      <section class="card">
        <h2>2. The Firehose endpoint</h2>
        <p>
          Give this URL to the CloudFormation template (<code>deploy/cloudformation/</code>) as the HTTP endpoint, with the application id as access key:
        </p>
        <div class="copy-line">
          <code data-testid="firehose-url">{endpoint}</code> <CopyButton text={endpoint} testid="copy-endpoint" />
        </div>
        <p class={https ? 'muted small' : 'warn small'}>
          Firehose delivers only to <strong>https</strong> URLs on port <strong>443</strong> with a certificate from a public authority.
          {!https && ' This page is not served that way: put Gatescope behind a TLS-terminating proxy (or use --tls-cert/--tls-key) and use that public URL.'}
        </p>
      </section>

      <section class="card">
        <h2>3. The access-log format</h2>
        <div class="seg-buttons" role="tablist">
          {KINDS.map((k) => (
            <button type="button" role="tab" key={k.key} aria-selected={kind === k.key} class={kind === k.key ? 'on' : ''} data-testid={`format-tab-${k.key}`} onClick={() => setKind(k.key)}>
              {k.label}
            </button>
          ))}
        </div>
        <p class="muted small">{KINDS.find((k) => k.key === kind)!.how}</p>
        <Guard {...formats}>
          {(f) => (
            <div class="format">
              <pre class="code wrap" data-testid="log-format">
                {f[kind]}
              </pre>
              <CopyButton text={f[kind]} label="Copy format" testid="copy-format" />
            </div>
          )}
        </Guard>
      </section>

      <section class="card" data-testid="data-status">
        <h2>4. Has data arrived?</h2>
        {status.error ? (
          <ErrorBox error={status.error} retry={status.reload} />
        ) : !status.data ? (
          <Loading />
        ) : (
          <StatusView s={status.data} reload={status.reload} />
        )}
      </section>
    </>
  );
}

function StatusView({ s, reload }: { s: AppStatus; reload: () => void }) {
  return (
    <>
      {s.last_batch_at ? (
        <p class="ok-text" data-testid="last-batch" data-time={s.last_batch_at}>
          ✓ Data is arriving: the last batch came {formatAgo(s.last_batch_at)} ({formatTime(s.last_batch_at)}) with {formatInt(s.last_batch_events)} event{s.last_batch_events === 1 ? '' : 's'}.
        </p>
      ) : (
        <p class="warn" data-testid="last-batch" data-time="">
          No batch has arrived yet. Once the delivery stream is set up, Firehose sends its first batch within its buffer interval (60 s).
        </p>
      )}
      <dl class="kv wide">
        <div>
          <dt>Batches stored</dt>
          <dd data-testid="batches">{formatInt(s.batches)}</dd>
        </div>
        <div>
          <dt>Events stored</dt>
          <dd data-testid="events-stored">{formatInt(s.events)}</dd>
        </div>
        <div>
          <dt>Rejected records</dt>
          <dd data-testid="rejected">{formatInt(s.rejected)}</dd>
        </div>
      </dl>
      {s.rejected_reasons.length > 0 && (
        <>
          <h3>Why records were rejected</h3>
          <table class="table" data-testid="rejected-reasons">
            <tbody>
              {s.rejected_reasons.map((r) => (
                <tr key={r.reason}>
                  <td>{r.reason}</td>
                  <td class="num">{formatInt(r.count)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Latest rejected records</h3>
          <div class="table-wrap">
            <table class="table" data-testid="rejected-records">
              <thead>
                <tr>
                  <th>Received</th>
                  <th class="hide-narrow">Source</th>
                  <th>Reason</th>
                  <th>Record</th>
                </tr>
              </thead>
              <tbody>
                {s.recent_rejected.map((r, i) => (
                  <tr key={i}>
                    <td class="nowrap">{formatTime(r.received_at)}</td>
                    <td class="hide-narrow">{r.source}</td>
                    <td>{r.reason}</td>
                    <td class="mono ellipsis" title={r.raw}>
                      {r.raw}
                      {r.truncated && <span class="muted"> … ({formatInt(r.raw_bytes)} bytes)</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <button type="button" class="btn" onClick={reload}>
        Check again
      </button>
    </>
  );
}

function NewApp({ onCreated }: { onCreated: (a: App) => void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<Error>();
  return (
    <form
      class="card new-app"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setErr(undefined);
        try {
          const a = await post<App>('/api/v1/apps', { name: name.trim() });
          setName('');
          onCreated(a);
        } catch (x) {
          setErr(x as Error);
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>New app</h2>
      <div class="toolbar-row">
        <input placeholder="App name, e.g. Orders API" aria-label="App name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} maxLength={200} />
        <button class="btn" type="submit" disabled={busy || !name.trim()}>
          Create app
        </button>
      </div>
      {err && <ErrorBox error={err} />}
    </form>
  );
}
