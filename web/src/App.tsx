import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, get, onUnauthorized, request } from './api';
import { AppCtx, type Ctx } from './context';
import { useAsync } from './hooks';
import { match, navigate, onLinkClick, useLocation } from './router';
import type { App as AppT, Fields } from './types';
import { Layout } from './components/Layout';
import { ErrorBox, Loading } from './components/States';
import { Login } from './pages/Login';
import { Overview } from './pages/Overview';
import { Events } from './pages/Events';
import { Explorer } from './pages/Explorer';
import { Users, UserPage } from './pages/Users';
import { Companies, CompanyPage } from './pages/Companies';
import { Funnels } from './pages/Funnels';
import { RetentionPage } from './pages/Retention';
import { Setup } from './pages/Setup';
import { Empty } from './components/States';

type Auth = 'checking' | 'in' | 'out';

export function App() {
  const [auth, setAuth] = useState<Auth>('checking');
  const [authErr, setAuthErr] = useState<Error>();
  useEffect(() => onUnauthorized(() => setAuth('out')), []);
  useEffect(() => {
    get('/api/v1/session').then(
      () => setAuth('in'),
      (e: Error) => {
        if (e instanceof ApiError && e.status === 401) setAuth('out');
        else setAuthErr(e);
      },
    );
  }, []);
  useEffect(() => {
    document.addEventListener('click', onLinkClick);
    return () => document.removeEventListener('click', onLinkClick);
  }, []);

  if (authErr) return <ErrorBox error={authErr} retry={() => window.location.reload()} />;
  if (auth === 'checking') return <Loading label="Connecting…" />;
  if (auth === 'out') return <Login onLogin={() => setAuth('in')} />;
  return <Dashboard onLogout={() => setAuth('out')} />;
}

function Dashboard({ onLogout }: { onLogout: () => void }) {
  const loc = useLocation();
  const apps = useAsync((s) => get<{ apps: AppT[] }>('/api/v1/apps', undefined, s), []);
  const list = apps.data?.apps ?? [];
  const wanted = new URLSearchParams(loc.search).get('app') ?? '';
  const stored = typeof localStorage !== 'undefined' ? localStorage.getItem('gatescope.app') ?? '' : '';
  const appId = list.find((a) => a.app_id === wanted)?.app_id ?? list.find((a) => a.app_id === stored)?.app_id ?? list[0]?.app_id ?? '';

  // Put the chosen app in the URL, so that the view can be shared.
  useEffect(() => {
    if (appId && wanted !== appId) {
      const p = new URLSearchParams(loc.search);
      p.set('app', appId);
      navigate(`${loc.path}?${p.toString()}`, true);
    }
    if (appId) localStorage.setItem('gatescope.app', appId);
  }, [appId, wanted, loc.path, loc.search]);

  const fields = useAsync(appId ? (s) => get<Fields>('/api/v1/fields', { app_id: appId }, s) : null, [appId]);
  const types = useMemo(() => {
    const t: Record<string, string> = {};
    for (const f of fields.data?.fields ?? []) t[f.name] = f.type;
    return t;
  }, [fields.data]);

  const ctx: Ctx = {
    apps: list,
    appId,
    fields: fields.data,
    types,
    reloadApps: apps.reload,
    logout: async () => {
      try {
        await request('DELETE', '/api/v1/session');
      } catch {
        // Logged out either way.
      }
      onLogout();
    },
  };

  let page;
  if (apps.error) page = <ErrorBox error={apps.error} retry={apps.reload} />;
  else if (!apps.data) page = <Loading />;
  else page = route(loc.path, appId);
  return (
    <AppCtx.Provider value={ctx}>
      <Layout>{page}</Layout>
    </AppCtx.Provider>
  );
}

function route(path: string, appId: string) {
  if (path === '/setup') return <Setup />;
  if (!appId) {
    return (
      <Empty title="No apps yet">
        Create an app on the <a href="/setup">set-up page</a>, then point a Firehose delivery stream at Gatescope.
      </Empty>
    );
  }
  let m;
  if (path === '/' || path === '/index.html') return <Overview key={appId} />;
  if (path === '/events') return <Events key={appId} />;
  if (path === '/explorer') return <Explorer key={appId} />;
  if (path === '/users') return <Users key={appId} />;
  if ((m = match('/users/:id', path))) return <UserPage key={appId + m.id} userId={m.id} />;
  if (path === '/companies') return <Companies key={appId} />;
  if ((m = match('/companies/:id', path))) return <CompanyPage key={appId + m.id} companyId={m.id} />;
  if (path === '/funnels') return <Funnels key={appId} />;
  if (path === '/retention') return <RetentionPage key={appId} />;
  return (
    <Empty title="No such page">
      <a href="/">Back to the overview</a>
    </Empty>
  );
}
