// The Temporal server's requests, from its Prometheus `/metrics` text: how many calls to the frontend
// (the service every client and worker talks to) a task costs, by operation.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition; comments and malformed lines are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/** `service_requests` of the frontend in one namespace, by operation. */
export function frontendRequests(text: string, namespace: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of parsePrometheusText(text)) {
    if (s.name !== 'service_requests' || s.labels.service_name !== 'frontend' || s.labels.namespace !== namespace) continue;
    const op = s.labels.operation ?? '?';
    out[op] = (out[op] ?? 0) + s.value;
  }
  return out;
}

export interface RequestsPerTask {
  total: number;
  /** Largest first; operations that did not grow are left out. */
  byOperation: { operation: string; count: number; perTask: number }[];
  perTask: number;
}

/** What the counters grew by between two scrapes, per completed task. */
export function requestsPerTask(before: Record<string, number>, after: Record<string, number>, tasks: number): RequestsPerTask {
  const byOperation = Object.entries(after)
    .map(([operation, v]) => ({ operation, count: v - (before[operation] ?? 0) }))
    .filter((o) => o.count > 0)
    .sort((a, b) => b.count - a.count || a.operation.localeCompare(b.operation))
    .map((o) => ({ ...o, perTask: o.count / tasks }));
  const total = byOperation.reduce((t, o) => t + o.count, 0);
  return { total, perTask: total / tasks, byOperation };
}

export async function scrape(url: string, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return res.text();
}
