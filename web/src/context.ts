import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { App, Fields } from './types';

export interface Ctx {
  apps: App[];
  /** The selected app's id ('' when there are no apps). */
  appId: string;
  fields: Fields | undefined;
  /** Field name → type, for typing filter values. */
  types: Record<string, string>;
  reloadApps: () => void;
  logout: () => void;
}

export const AppCtx = createContext<Ctx>({
  apps: [],
  appId: '',
  fields: undefined,
  types: {},
  reloadApps: () => {},
  logout: () => {},
});

export const useApp = () => useContext(AppCtx);

/** A dashboard link that keeps the selected app. */
export function href(path: string, appId: string, query = ''): string {
  const p = new URLSearchParams(query);
  if (appId && !p.has('app')) {
    const q = new URLSearchParams({ app: appId });
    p.forEach((v, k) => q.append(k, v));
    const s = q.toString();
    return `${path}?${s}`;
  }
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}
