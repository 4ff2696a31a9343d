import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

/** A panel over the right side of the page; Escape or × closes it. */
export function Drawer({ title, onClose, children, testid = 'drawer' }: { title: string; onClose: () => void; children: ComponentChildren; testid?: string }) {
  useEffect(() => {
    const k = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    window.addEventListener('keydown', k);
    return () => window.removeEventListener('keydown', k);
  }, [onClose]);
  return (
    <div class="drawer-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="drawer" role="dialog" aria-modal="true" aria-label={title} data-testid={testid}>
        <header>
          <h2>{title}</h2>
          <button type="button" class="btn icon" aria-label="Close" data-testid={`${testid}-close`} onClick={onClose}>
            ×
          </button>
        </header>
        <div class="drawer-body">{children}</div>
      </div>
    </div>
  );
}
