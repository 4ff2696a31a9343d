import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function ErrorBox({ error, retry }: { error: Error; retry?: () => void }) {
  const status = error instanceof ApiError ? error.status : 0;
  const title =
    status === 0 ? 'Could not reach Gatescope' : status === 503 ? 'The store is busy or the query timed out' : status === 404 ? 'Not found' : 'Something went wrong';
  return (
    <div class="state state-error" role="alert">
      <strong>{title}</strong>
      <span class="muted">{error.message}</span>
      {retry && (
        <button type="button" class="btn" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <strong>{title}</strong>
      {children && <span class="muted">{children}</span>}
    </div>
  );
}

/** Shows loading, error or empty state, else the children. */
export function Guard<T>({
  data,
  error,
  loading,
  reload,
  empty,
  isEmpty,
  children,
}: {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload?: () => void;
  empty?: ComponentChildren;
  isEmpty?: (d: T) => boolean;
  children: (d: T) => ComponentChildren;
}) {
  if (error) return <ErrorBox error={error} retry={reload} />;
  if (data === undefined) return loading ? <Loading /> : null;
  if (isEmpty && isEmpty(data)) return <>{empty ?? <Empty title="No data" />}</>;
  return <div class={loading ? 'refreshing' : undefined}>{children(data)}</div>;
}
