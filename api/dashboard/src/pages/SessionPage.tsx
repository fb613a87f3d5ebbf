// A session's page (spec §3.4): its terminal, the files of /workspace (upload, download, delete), its
// checkpoint chain and named snapshots, its listening ports, fork and end, and its workflow in the
// Temporal UI. Every call goes by the login cookie to /api/v1/console/sessions/{id}/…; the terminal and
// the ports are the session routes themselves, which take the cookie from the dashboard's own origin.
import type { TargetedDragEvent } from 'preact';
import { useState } from 'preact/hooks';
import { api, listDirectory, temporalLink, type FileEntry, type Session, type SessionDetail } from '../api.js';
import { SessionTerminal } from '../Terminal.js';
import { Badge, ErrorLine, Time, bytes, count, messageOf, navigate, usePoll } from '../ui.js';

const POLL_MS = 5000;
const ROOT = '/workspace';

export function SessionPage({ session, id }: { session: Session; id: string }) {
  const detail = usePoll(() => api.consoleGetSession({ id }), POLL_MS, [id]);
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const s = detail.data;
  const live = !!s && s.status !== 'ended';

  const fork = async () => {
    try {
      const forked = await api.consoleForkSession({ id });
      setError(undefined);
      navigate(`/sessions/${encodeURIComponent(forked.session_id)}`);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  const end = async () => {
    if (!confirm(`End session ${id}? Its container is removed and its checkpoint dropped; named snapshots stay.`)) return;
    try {
      await api.consoleDeleteSession({ id });
      setNotice('The session has ended.');
      setError(undefined);
    } catch (e) {
      setError(messageOf(e));
    }
    await detail.reload();
  };

  return (
    <section class="session-page" data-testid="session-page" data-status={s?.status}>
      <div class="head">
        <h2>Session <span class="mono">{id}</span></h2>
        {s && <Badge value={s.status} />}
        {s?.ended_reason && <span class="muted">{s.ended_reason}</span>}
        {s && <a href={temporalLink(session, s.workflow_id)} target="_blank" rel="noopener noreferrer" data-testid="workflow-link">workflow in Temporal ↗</a>}
        <span class="spacer" />
        <button type="button" class="secondary small" disabled={!live} onClick={() => void fork()}>Fork</button>
        <button type="button" class="danger small" disabled={!live} onClick={() => void end()}>End session</button>
      </div>
      <p class="hint">
        <a href="/tasks" onClick={(e) => { e.preventDefault(); navigate('/tasks'); }}>‹ all sessions</a>
        {s && <> · host <span class="mono">{s.host ?? '—'}</span> · started <Time iso={s.created_at} /> · {count(s.commands, 'command')}{s.lease_expires_unix_ms ? <> · lease ends <Time iso={new Date(s.lease_expires_unix_ms).toISOString()} /></> : null}</>}
      </p>
      {s?.status === 'paused' && <p class="hint">Paused: checkpointed and its container removed. The next call (a command, a file, the terminal) resumes it on any host.</p>}
      <ErrorLine error={error ?? detail.error} />
      {notice && <p class="notice">{notice}</p>}
      {s && (
        <div class="session-grid">
          <div class="session-main">
            <h3>Terminal</h3>
            {live ? <SessionTerminal sessionId={id} /> : <p class="muted">The session has ended.</p>}
          </div>
          <div class="session-side">
            {live && <Files id={id} />}
            <Ports id={id} live={live} />
            <Checkpoints detail={s} id={id} live={live} onChange={detail.reload} />
          </div>
        </div>
      )}
    </section>
  );
}

/** The files of /workspace: one directory at a time, with upload (picker or drop), download and delete. */
function Files({ id }: { id: string }) {
  const [dir, setDir] = useState(ROOT);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [over, setOver] = useState(false);
  const url = (path: string) => api.url('consoleReadSessionFile', { id, query: { path } });
  const listing = usePoll(() => listDirectory(id, dir), 0, [dir]);
  const entries = [...(listing.data?.path === dir ? listing.data.entries : [])].sort((a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name));
  const join = (name: string) => `${dir.replace(/\/+$/, '')}/${name}`;

  const upload = async (files: FileList | null | undefined) => {
    if (!files?.length) return;
    setBusy(true);
    try {
      for (const f of Array.from(files)) {
        // Raw bytes by PUT: not JSON, so the JSON body parser leaves the stream to the upload.
        await api.consoleWriteSessionFile({ id, query: { path: join(f.name) }, body: f });
      }
      setError(undefined);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
    await listing.reload();
  };
  const remove = async (e: FileEntry) => {
    if (!confirm(`Delete ${join(e.name)}${e.type === 'dir' ? ' and everything in it' : ''}?`)) return;
    try {
      await api.consoleDeleteSessionFile({ id, query: { path: join(e.name) } });
      setError(undefined);
    } catch (err) {
      setError(messageOf(err));
    }
    await listing.reload();
  };
  const drop = (ev: TargetedDragEvent<HTMLElement>) => {
    ev.preventDefault();
    setOver(false);
    void upload(ev.dataTransfer?.files);
  };

  return (
    <section
      class={`files ${over ? 'drop-over' : ''}`}
      aria-label="Files"
      data-testid="files"
      onDragOver={(ev) => { ev.preventDefault(); setOver(true); }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      <div class="head">
        <h3>Files</h3>
        <span class="mono" data-testid="files-dir">{dir}</span>
        <span class="spacer" />
        <button type="button" class="secondary small" onClick={() => void listing.reload()}>refresh</button>
        <label class="button small">
          Upload
          <input type="file" multiple name="upload" class="visually-hidden" disabled={busy} onChange={(ev) => { const input = ev.currentTarget; void upload(input.files).then(() => { input.value = ''; }); }} />
        </label>
      </div>
      <p class="hint">Drop files here to upload them into this directory.</p>
      <ErrorLine error={error ?? listing.error} />
      <table data-testid="files-table">
        <thead><tr><th>name</th><th>size</th><th>modified</th><th></th></tr></thead>
        <tbody>
          {dir !== ROOT && (
            <tr><td colSpan={4}><button type="button" class="link" onClick={() => setDir(dir.slice(0, dir.lastIndexOf('/')) || ROOT)}>..</button></td></tr>
          )}
          {entries.map((e) => (
            <tr key={e.name} data-file-name={e.name} data-file-type={e.type}>
              <td>
                {e.type === 'dir'
                  ? <button type="button" class="link" onClick={() => setDir(join(e.name))}>{e.name}/</button>
                  : e.type === 'file'
                    ? <a href={url(join(e.name))} download={e.name}>{e.name}</a>
                    : <span>{e.name} <span class="muted">({e.type})</span></span>}
              </td>
              <td>{e.type === 'dir' ? '' : bytes(e.size)}</td>
              <td><Time iso={e.modified} /></td>
              <td class="actions"><button type="button" class="danger small" onClick={() => void remove(e)}>delete</button></td>
            </tr>
          ))}
          {listing.data?.path === dir && entries.length === 0 && <tr><td colSpan={4} class="muted">Empty.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}

/** The ports listening in the session, each served through the API (and on a preview host where there is one). */
function Ports({ id, live }: { id: string; live: boolean }) {
  const ports = usePoll(() => (live ? api.consoleSessionPorts({ id }) : Promise.resolve(undefined)), live ? POLL_MS : 0, [id, live]);
  if (!live) return null;
  return (
    <section aria-label="Ports" data-testid="ports">
      <h3>Ports</h3>
      <p class="hint">A server listening inside the session is reached through the API.</p>
      {ports.error && <p class="muted">Ports are not available: {ports.error}</p>}
      {ports.data && (
        <ul class="ports" data-testid="ports-list">
          {ports.data.ports.map((p) => (
            <li key={p.port} data-port={p.port}>
              <a href={p.path} target="_blank" rel="noopener noreferrer">port {p.port} ↗</a>
              {p.preview_url && <> · <a href={p.preview_url} target="_blank" rel="noopener noreferrer">preview host ↗</a></>}
            </li>
          ))}
          {ports.data.ports.length === 0 && <li class="muted">No port is listening.</li>}
        </ul>
      )}
    </section>
  );
}

/** The checkpoint chain of /workspace, and the named snapshots taken from this session. */
function Checkpoints({ detail, id, live, onChange }: { detail: SessionDetail; id: string; live: boolean; onChange: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const c = detail.checkpoint;
  const last = detail.chain.parts[detail.chain.parts.length - 1];
  return (
    <section aria-label="Checkpoints" data-testid="checkpoints">
      <h3>Checkpoints</h3>
      <dl class="facts">
        <dt>last checkpoint</dt><dd>{c ? <><Time iso={c.at} /> · {bytes(c.bytes)} stored ({bytes(c.raw_bytes)} as tar)</> : <span class="muted">none yet</span>}</dd>
        <dt>chain</dt><dd data-testid="chain">{count(detail.chain.parts_total, 'part')}{last ? <> · last #{last.seq} ({last.kind}) <Time iso={last.created_at} /></> : null}</dd>
        <dt>generation</dt><dd data-testid="generation">{detail.chain.generation ?? '—'}</dd>
      </dl>
      <h4>Named snapshots</h4>
      {live && (
        <form
          class="row"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            try {
              await api.consoleCreateSnapshot({ id, body: { name: name.trim() } });
              setName('');
              setError(undefined);
              await onChange();
            } catch (err) {
              setError(messageOf(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          <input name="snapshot-name" placeholder="snapshot name" aria-label="Snapshot name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
          <button type="submit" disabled={busy}>Snapshot</button>
        </form>
      )}
      <ErrorLine error={error} />
      <table data-testid="snapshots-table">
        <thead><tr><th>name</th><th>parts</th><th>size</th><th>taken</th></tr></thead>
        <tbody>
          {detail.snapshots.map((n) => (
            <tr key={n.name} data-snapshot-name={n.name}>
              <td class="mono">{n.name}</td>
              <td>{n.parts}</td>
              <td>{bytes(n.bytes)}</td>
              <td><Time iso={n.created_at} /></td>
            </tr>
          ))}
          {detail.snapshots.length === 0 && <tr><td colSpan={4} class="muted">None from this session.</td></tr>}
        </tbody>
      </table>
    </section>
  );
}
