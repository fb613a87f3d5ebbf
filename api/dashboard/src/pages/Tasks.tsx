// The account's tasks (each a Temporal workflow, linked in the Temporal UI) and, where the API has
// them, its terminal sessions, each opening its own page.
import { useState } from 'preact/hooks';
import { api, temporalLink, type Session, type Task } from '../api.js';
import { Badge, ErrorLine, Time, navigate, usePoll } from '../ui.js';

const PAGE_SIZE = 20;
const FILTERS = ['', 'queued', 'running', 'succeeded', 'failed', 'timeout', 'canceled'];

export function Tasks({ session }: { session: Session }) {
  const [status, setStatus] = useState('');
  const [page, setPage] = useState(1);
  const tasks = usePoll(
    () => api.consoleTasks({ query: { page, page_size: PAGE_SIZE, status: (status || undefined) as Task['status'] | undefined } }),
    5000,
    [status, page],
  );
  const pages = Math.max(1, Math.ceil((tasks.data?.total ?? 0) / PAGE_SIZE));
  return (
    <section>
      <div class="head">
        <h2>Tasks</h2>
        <label class="inline">
          status
          <select value={status} onChange={(e) => { setStatus(e.currentTarget.value); setPage(1); }}>
            {FILTERS.map((f) => <option value={f}>{f || 'all'}</option>)}
          </select>
        </label>
        <button type="button" class="secondary small" onClick={() => void tasks.reload()}>refresh</button>
      </div>
      <p class="hint">Each task is a Temporal workflow: its id opens it in the Temporal UI.</p>
      <ErrorLine error={tasks.error} />
      <table data-testid="tasks-table">
        <thead><tr><th>task</th><th>capability</th><th>status</th><th>created</th><th>finished</th><th>error</th></tr></thead>
        <tbody>
          {tasks.data?.items.map((t) => (
            <tr key={t.task_id} data-task-id={t.task_id}>
              <td><a class="mono" href={temporalLink(session, t.task_id)} target="_blank" rel="noopener noreferrer">{t.task_id}</a></td>
              <td>{t.capability}</td>
              <td><Badge value={t.status} /></td>
              <td><Time iso={t.created_at} /></td>
              <td><Time iso={t.completed_at} /></td>
              <td class="muted">{t.error?.code ?? ''}</td>
            </tr>
          ))}
          {tasks.data && tasks.data.items.length === 0 && <tr><td colSpan={6} class="muted">No tasks yet: POST /api/v1/tasks with an access token.</td></tr>}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" class="secondary small" disabled={page <= 1} onClick={() => setPage(page - 1)}>‹ newer</button>
        <span>page {page} of {pages} · {tasks.data?.total ?? 0} tasks</span>
        <button type="button" class="secondary small" disabled={page >= pages} onClick={() => setPage(page + 1)}>older ›</button>
      </div>
      <Sessions session={session} />
    </section>
  );
}

/** Terminal sessions: shown only when the API answers GET /sessions. */
function Sessions({ session }: { session: Session }) {
  const sessions = usePoll(() => api.consoleSessions({ query: { page_size: 50 } }).catch(() => undefined), 5000);
  if (!sessions.data) return null;
  return (
    <>
      <h2>Sessions</h2>
      <table data-testid="sessions-table">
        <thead><tr><th>session</th><th>status</th><th>host</th><th>created</th><th>ended</th><th>workflow</th></tr></thead>
        <tbody>
          {sessions.data.items.map((s) => (
            <tr key={s.session_id} data-session-id={s.session_id}>
              <td><a class="mono" href={`/sessions/${encodeURIComponent(s.session_id)}`} onClick={(e) => { e.preventDefault(); navigate(`/sessions/${encodeURIComponent(s.session_id)}`); }}>{s.session_id}</a></td>
              <td><Badge value={s.status} /> {s.ended_reason && <span class="muted">{s.ended_reason}</span>}</td>
              <td class="mono">{s.host ?? '—'}</td>
              <td><Time iso={s.created_at} /></td>
              <td><Time iso={s.ended_at} /></td>
              <td><a href={temporalLink(session, s.workflow_id)} target="_blank" rel="noopener noreferrer">Temporal ↗</a></td>
            </tr>
          ))}
          {sessions.data.items.length === 0 && <tr><td colSpan={6} class="muted">No sessions yet.</td></tr>}
        </tbody>
      </table>
    </>
  );
}
