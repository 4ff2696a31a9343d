import { useState } from 'preact/hooks';
import { ApiError, post } from '../api';

export function Login({ onLogin }: { onLogin: () => void }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  return (
    <div class="login">
      <form
        class="card login-card"
        data-testid="login"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setErr('');
          try {
            await post('/api/v1/session', { token: token.trim() });
            onLogin();
          } catch (x) {
            setErr(x instanceof ApiError && x.status === 401 ? 'That is not the admin token.' : (x as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>
          <span class="logo" aria-hidden="true">◆</span> Gatescope
        </h1>
        <p class="muted">
          Log in with the admin token: <code>gatescope serve</code> printed it on first start and saved it in <code>admin-token</code> under the data directory.
        </p>
        <label>
          Admin token
          <input type="password" name="token" autoComplete="current-password" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
        {err && (
          <p class="error-text" role="alert">
            {err}
          </p>
        )}
        <button class="btn primary" type="submit" disabled={busy || !token.trim()}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
