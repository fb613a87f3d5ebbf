// Small pieces every page uses: polling, times, status badges, a copy button, a once-only secret box.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export interface Loaded<T> { data: T | undefined; error: string | undefined; reload: () => Promise<void> }

/** Loads now and every `everyMs` (0: once); `reload` loads again at once. */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    try {
      setData(await loadRef.current());
      setError(undefined);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => {
    void reload();
    if (!everyMs) return;
    const t = setInterval(() => void reload(), everyMs);
    return () => clearInterval(t);
  }, deps);
  return { data, error, reload };
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  // A time to come (a lease's end): how long until it.
  if (s < 0) return -s < 60 ? `in ${-s} s` : -s < 3600 ? `in ${Math.floor(-s / 60)} min` : -s < 86400 ? `in ${Math.floor(-s / 3600)} h` : d.toLocaleDateString();
  const ago = s < 60 ? `${Math.max(s, 0)} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : s < 86400 ? `${Math.floor(s / 3600)} h ago` : d.toLocaleDateString();
  return ago;
}

export function Time({ iso }: { iso: string | null | undefined }) {
  return <time dateTime={iso ?? undefined} title={iso ?? undefined}>{when(iso)}</time>;
}

export function Badge({ value }: { value: string }) {
  return <span class={`badge badge-${value}`}>{value}</span>;
}

export function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button type="button" class="secondary small" onClick={async () => {
      await navigator.clipboard?.writeText(text).catch(() => undefined);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    }}>{copied ? 'copied' : 'copy'}</button>
  );
}

/** A secret shown this once: the API keeps only its hash. */
export function OnceBox({ title, value, onClose, children }: { title: string; value: string; onClose: () => void; children?: ComponentChildren }) {
  return (
    <div class="once" role="alert" data-testid="once-box">
      <div class="once-head">
        <strong>{title}</strong>
        <span class="hint">Shown only now: copy it and keep it safe.</span>
      </div>
      <pre data-testid="once-value">{value}</pre>
      <div class="row">
        <CopyButton text={value} />
        <button type="button" class="secondary small" onClick={onClose}>done</button>
      </div>
      {children}
    </div>
  );
}

export function ErrorLine({ error }: { error: string | undefined }) {
  return error ? <p class="error" role="status">{error}</p> : null;
}

export function Card({ label, value, tone, testid }: { label: string; value: number | string | undefined; tone?: string; testid?: string }) {
  return (
    <div class={`card ${tone ?? ''}`} data-testid={testid}>
      <div class="card-value">{value ?? '…'}</div>
      <div class="card-label">{label}</div>
    </div>
  );
}

export function messageOf(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.status})`;
  return e instanceof Error ? e.message : String(e);
}

/** Goes to one of the dashboard's own pages without a reload (the app follows popstate). */
export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** Bytes as people read them. */
export function bytes(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** `n thing` or `n things`. */
export function count(n: number, thing: string): string {
  return `${n} ${thing}${n === 1 ? '' : 's'}`;
}
