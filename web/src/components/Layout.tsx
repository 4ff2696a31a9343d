import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useApp, href } from '../context';
import { navigate, useLocation } from '../router';

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/events', 'Event log'],
  ['/explorer', 'Explorer'],
  ['/users', 'Users'],
  ['/companies', 'Companies'],
  ['/funnels', 'Funnels'],
  ['/retention', 'Retention'],
  ['/setup', 'Set-up'],
];

function active(path: string, item: string): boolean {
  return item === '/' ? path === '/' : path === item || path.startsWith(item + '/');
}

export function Layout({ children }: { children: ComponentChildren }) {
  const { apps, appId, logout } = useApp();
  const { path } = useLocation();
  const [open, setOpen] = useState(false);
  return (
    <div class="shell">
      <header class="topbar">
        <button type="button" class="btn icon menu-toggle" aria-label="Menu" aria-expanded={open} onClick={() => setOpen(!open)}>
          ☰
        </button>
        <a class="brand" href={href('/', appId)}>
          <span class="logo" aria-hidden="true">◆</span> Gatescope
        </a>
        <label class="app-picker">
          <span class="sr-only">App</span>
          <select
            data-testid="app-picker"
            value={appId}
            disabled={apps.length === 0}
            onChange={(e) => {
              const id = (e.target as HTMLSelectElement).value;
              localStorage.setItem('gatescope.app', id);
              // Keep the page, drop its app-specific state.
              navigate(`${path.split('/').slice(0, 2).join('/') || '/'}?app=${encodeURIComponent(id)}`);
            }}
          >
            {apps.length === 0 && <option value="">No apps yet</option>}
            {apps.map((a) => (
              <option value={a.app_id} key={a.app_id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn ghost logout" data-testid="logout" onClick={logout}>
          Log out
        </button>
      </header>
      <nav class={`sidebar ${open ? 'open' : ''}`} aria-label="Pages" onClick={() => setOpen(false)}>
        {NAV.map(([p, label]) => (
          <a key={p} href={href(p, appId)} class={active(path, p) ? 'on' : ''} data-testid={`nav-${label.toLowerCase().replace(/[^a-z]/g, '')}`}>
            {label}
          </a>
        ))}
      </nav>
      <main class="content">{children}</main>
    </div>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1>{title}</h1>
      {children && <div class="page-actions">{children}</div>}
    </div>
  );
}
