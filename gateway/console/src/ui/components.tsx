import { useEffect, useId, useRef, useState, type ButtonHTMLAttributes, type ReactNode } from 'react';
import type { ApiError } from '../api/client';

/** A page: its title is the document title and the one h1, focused after navigation for screen readers. */
export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  const h1 = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Patchbay`;
    h1.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title" ref={h1} tabIndex={-1}>
          {title}
        </h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** An error as the gateway gave it: the message and its stable code. */
export function ErrorMessage({ error, title }: { error: ApiError | undefined; title?: string }) {
  if (!error) return null;
  return (
    <div role="alert" className="error-box" data-code={error.code}>
      {title ? <strong>{title}: </strong> : null}
      {error.message} <code className="code">{error.code}</code>
      {error.issues.length > 1 ? (
        <ul>
          {error.issues.map((i, n) => (
            <li key={n}>
              {i.path ? <code>{i.path}</code> : null} {i.message} <code className="code">{i.code}</code>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Loading({ label = 'Loading' }: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      {label}…
    </p>
  );
}

const STATUS_TONE: Record<string, string> = {
  succeeded: 'good',
  completed: 'good',
  compliant: 'good',
  pinned: 'good',
  running: 'busy',
  released: 'busy',
  approved: 'busy',
  retrying: 'warn',
  paused: 'warn',
  'awaiting-approval': 'warn',
  pending: 'warn',
  planned: 'idle',
  requested: 'idle',
  skipped: 'idle',
  cancelled: 'idle',
  failed: 'bad',
  halted: 'bad',
  aborted: 'bad',
  mismatch: 'bad',
};

/** A state as a coloured label (the word is always there: colour is never the only signal). */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge tone-${STATUS_TONE[status] ?? 'idle'}`}>{status}</span>;
}

export function Button({ tone = 'default', ...props }: ButtonHTMLAttributes<HTMLButtonElement> & { tone?: 'default' | 'primary' | 'danger' }) {
  return <button type="button" {...props} className={`btn btn-${tone} ${props.className ?? ''}`} />;
}

/** A labelled form field with its error next to it (`aria-invalid`, `aria-describedby`). */
export function Field({ label, error, hint, children }: { label: string; error?: string | undefined; hint?: string; children: (props: { id: string; 'aria-invalid'?: boolean; 'aria-describedby'?: string }) => ReactNode }) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div className={`field ${error ? 'field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, ...(error ? { 'aria-invalid': true } : {}), ...(described ? { 'aria-describedby': described } : {}) })}
      {hint ? (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      ) : null}
      {error ? (
        <small id={`${id}-error`} className="field-error" role="alert">
          {error}
        </small>
      ) : null}
    </div>
  );
}

/**
 * Cursor pagination as the API gives it (`first`/`after`, `pageInfo`): keeps the cursors of the
 * pages seen so "Previous" works without offsets.
 */
export function usePager(pageSize: number, resetKey: string) {
  const [stack, setStack] = useState<Array<string | null>>([null]);
  useEffect(() => setStack([null]), [resetKey]);
  const after = stack[stack.length - 1] ?? null;
  return {
    first: pageSize,
    after,
    page: stack.length,
    next: (endCursor: string | null | undefined) => endCursor && setStack((s) => [...s, endCursor]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
  };
}

export function Pager({ page, hasNext, onNext, onPrevious, label }: { page: number; hasNext: boolean; onNext(): void; onPrevious(): void; label: string }) {
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <Button onClick={onPrevious} disabled={page <= 1}>
        Previous
      </Button>
      <span aria-live="polite">Page {page}</span>
      <Button onClick={onNext} disabled={!hasNext}>
        Next
      </Button>
    </nav>
  );
}

/** A date-time in the viewer's zone, with the exact ISO value on hover. */
export function Time({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={at}>
      {d.toLocaleString()}
    </time>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
