// The query API client. The browser authenticates with the session cookie
// that POST /api/v1/session sets (HttpOnly: scripts never see the token);
// every request carries the header the server requires of cookie-
// authenticated writes, so that cross-site pages cannot forge them.

export const CSRF_HEADER = 'X-Gatescope-Request';

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const unauthorized = new Set<Listener>();

/** Calls fn whenever the API answers 401 (the session ended). */
export function onUnauthorized(fn: Listener): () => void {
  unauthorized.add(fn);
  return () => unauthorized.delete(fn);
}

export interface RequestOptions {
  params?: Record<string, string | number | undefined | null>;
  body?: unknown;
  signal?: AbortSignal;
}

export function url(path: string, params?: RequestOptions['params']): string {
  if (!params) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const q = p.toString();
  return q ? `${path}?${q}` : path;
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { [CSRF_HEADER]: '1', Accept: 'application/json' };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let resp: Response;
  try {
    resp = await fetch(url(path, opts.params), { method, headers, body, signal: opts.signal, credentials: 'same-origin' });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'Gatescope is unreachable: ' + (e as Error).message);
  }
  if (resp.status === 401 && path !== '/api/v1/session') unauthorized.forEach((f) => f());
  if (resp.status === 204) return undefined as T;
  const text = await resp.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: an error page from a proxy, say.
  }
  if (!resp.ok) {
    const msg = (data as { error?: string } | undefined)?.error ?? (text.slice(0, 200) || resp.statusText);
    throw new ApiError(resp.status, msg);
  }
  return data as T;
}

export const get = <T>(path: string, params?: RequestOptions['params'], signal?: AbortSignal) =>
  request<T>('GET', path, { params, signal });

export const post = <T>(path: string, body: unknown, signal?: AbortSignal) => request<T>('POST', path, { body, signal });
