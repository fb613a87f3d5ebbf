// Execution hosts (admin): credentials with their start command (shown once), status, in-flight work.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { Badge, Card, ErrorLine, OnceBox, Time, messageOf, usePoll } from '../ui.js';

const POLL_MS = 3000;

export function Workers() {
  const list = usePoll(() => api.listWorkers({ query: { page_size: 100 } }), POLL_MS);
  const stats = usePoll(() => api.workerStats(), POLL_MS);
  const inflight = usePoll(() => api.workerInflight(), POLL_MS);
  const [created, setCreated] = useState<{ node_id: string; command: string }>();
  const [error, setError] = useState<string>();
  const running = new Map((inflight.data?.workers ?? []).map((w) => [w.node_id, new Map(w.capabilities.map((c) => [c.name, c.inflight]))]));
  const reload = () => Promise.all([list.reload(), stats.reload(), inflight.reload()]);
  return (
    <section>
      <div class="head">
        <h2>Workers</h2>
        <button type="button" onClick={async () => {
          try {
            setCreated(await api.createWorker());
            setError(undefined);
            await reload();
          } catch (err) {
            setError(messageOf(err));
          }
        }}>New worker</button>
      </div>
      <p class="hint">One runtime worker per execution host. It is online while its heartbeats arrive; deleting it stops it within one heartbeat.</p>
      <ErrorLine error={error ?? list.error} />
      {created && (
        <OnceBox title={`Worker ${created.node_id}: start command`} value={created.command} onClose={() => setCreated(undefined)}>
          <p class="hint">Run it on the execution host, in a checkout of durabox after <code>deploy/setup-host.sh --no-pg &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
        </OnceBox>
      )}
      <div class="cards">
        <Card label="online" value={stats.data?.online} tone="green" />
        <Card label="offline" value={stats.data?.offline} />
        <Card label="total" value={stats.data?.total} />
      </div>
      <table data-testid="workers-table">
        <thead><tr><th>node</th><th>host</th><th>status</th><th>runtimes (in flight / max)</th><th>version</th><th>last seen</th><th></th></tr></thead>
        <tbody>
          {list.data?.items.map((w) => (
            <tr key={w.node_id} data-node-id={w.node_id}>
              <td class="mono">{w.node_id}</td>
              <td>{w.node_name || '—'}</td>
              <td><Badge value={w.status} /></td>
              <td>{w.capabilities.map((c) => <span class="chip">{c.name} {running.get(w.node_id)?.get(c.name) ?? 0}/{c.max_inflight}</span>)}</td>
              <td class="muted">{w.version || '—'}</td>
              <td><Time iso={w.last_seen_at} /></td>
              <td class="actions">
                <button type="button" class="danger small" onClick={async () => {
                  if (!confirm(`Delete worker ${w.node_id}? Its credential stops working and the worker stops taking work.`)) return;
                  try { await api.deleteWorker({ node_id: w.node_id }); } catch (err) { setError(messageOf(err)); }
                  await reload();
                }}>delete</button>
              </td>
            </tr>
          ))}
          {list.data && list.data.items.length === 0 && <tr><td colSpan={7} class="muted">No workers yet: create one and run its start command on a host.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
