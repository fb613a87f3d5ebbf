// Live numbers: workers (admin) and the account's tasks, polled every few seconds.
import { api, type Session } from '../api.js';
import { Card, ErrorLine, usePoll } from '../ui.js';

const POLL_MS = 3000;
const STATUSES = ['running', 'succeeded', 'failed', 'timeout', 'canceled'] as const;

async function taskCounts(): Promise<Record<string, number>> {
  const counts = await Promise.all(STATUSES.map((s) => api.consoleTasks({ query: { status: s, page_size: 1 } }).then((p) => [s, p.total] as const)));
  const all = await api.consoleTasks({ query: { page_size: 1 } });
  return { ...Object.fromEntries(counts), total: all.total };
}

export function Overview({ session }: { session: Session }) {
  const admin = session.account.is_admin;
  const tasks = usePoll(taskCounts, POLL_MS);
  const workers = usePoll(() => (admin ? api.workerStats() : Promise.resolve(undefined)), POLL_MS);
  const inflight = usePoll(() => (admin ? api.workerInflight() : Promise.resolve(undefined)), POLL_MS);
  const busy = inflight.data?.workers.reduce((n, w) => n + w.capabilities.reduce((m, c) => m + c.inflight, 0), 0);
  const slots = inflight.data?.workers.reduce((n, w) => n + w.capabilities.reduce((m, c) => m + c.max_inflight, 0), 0);
  return (
    <section>
      <h2>Overview</h2>
      <h3>Your tasks</h3>
      <div class="cards" data-testid="task-stats">
        <Card label="total" value={tasks.data?.total} testid="tasks-total" />
        <Card label="running" value={tasks.data?.running} tone="blue" />
        <Card label="succeeded" value={tasks.data?.succeeded} tone="green" />
        <Card label="failed" value={tasks.data?.failed} tone="red" />
        <Card label="timed out" value={tasks.data?.timeout} tone="amber" />
        <Card label="canceled" value={tasks.data?.canceled} />
      </div>
      <ErrorLine error={tasks.error} />
      {admin && (
        <>
          <h3>Workers</h3>
          <div class="cards" data-testid="worker-stats">
            <Card label="online" value={workers.data?.online} tone="green" testid="workers-online" />
            <Card label="offline" value={workers.data?.offline} />
            <Card label={`silent > ${workers.data?.stale_after_sec ?? 30} s`} value={workers.data?.stale} tone="amber" />
            <Card label="executions in flight" value={busy === undefined ? undefined : `${busy} / ${slots}`} tone="blue" />
          </div>
          <ErrorLine error={workers.error ?? inflight.error} />
        </>
      )}
      <p class="hint">Refreshes every {POLL_MS / 1000} s.</p>
    </section>
  );
}
