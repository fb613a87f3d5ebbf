// What OpenSandbox's wire shapes are in durabox's terms, as pure functions: sandbox states and views, the
// list's metadata filter and pages, a command with its environment and directory, execd's stream events,
// a cell's rich results, file metadata from stat/find, and the execd endpoint's per-sandbox token.
import { openPeerToken, shellQuote as shQuote, signPeerToken } from '../common.js';
import type { PeerMemo, RunningSession } from '../../control/session-service.js';
import type { RunCodeOutput, SessionSummary } from '../../contract/messages.js';

/** OpenSandbox's sandbox states durabox's sessions take. */
export type SandboxState = 'Pending' | 'Running' | 'Paused' | 'Terminated';

/** The execd port the SDKs ask an endpoint for: served by durabox itself, not by the container. */
export const EXECD_PORT = 44772;
/** The egress sidecar's port the SDKs also resolve at create (durabox has no sidecar; its calls are refused). */
export const EGRESS_PORT = 18080;
/** The header the execd endpoint's answer carries its per-sandbox token in (both SDKs forward endpoint headers). */
export const EXECD_TOKEN_HEADER = 'OPEN-SANDBOX-EXECD-TOKEN';
/** What the reference server answers for an entrypoint it was not given (snapshot restores); durabox runs none. */
export const DEFAULT_ENTRYPOINT = ['tail', '-f', '/dev/null'];

export function stateOf(status: SessionSummary['status'] | 'paused' | 'active'): SandboxState {
  switch (status) {
    case 'starting': return 'Pending';
    case 'paused': return 'Paused';
    case 'ended': return 'Terminated';
    default: return 'Running';
  }
}

export interface SandboxView {
  id: string;
  image: { uri: string };
  status: { state: SandboxState; reason?: string; message?: string };
  metadata: Record<string, string>;
  entrypoint: string[];
  expiresAt?: string;
  createdAt: string;
}

/** A sandbox as OpenSandbox shows it; a durabox session made elsewhere shows as the built-in terminal image. */
export function sandboxView(s: { id: string; state: SandboxState; createdAt: Date | string; leaseExpiresMs: number | null; peer?: PeerMemo }): SandboxView {
  const createdAt = typeof s.createdAt === 'string' ? s.createdAt : s.createdAt.toISOString();
  return {
    id: s.id,
    image: { uri: s.peer?.alias || 'terminal' },
    status: { state: s.state, ...(s.state === 'Paused' ? { reason: 'paused', message: 'checkpointed; resumes on its next call' } : {}) },
    metadata: s.peer?.metadata ?? {},
    entrypoint: DEFAULT_ENTRYPOINT,
    ...(s.leaseExpiresMs ? { expiresAt: new Date(s.leaseExpiresMs).toISOString() } : {}),
    createdAt,
  };
}

/**
 * The list's `metadata` filter: `k=v&k2=v2`, each key and value percent-encoded (the query layer decoded
 * once already). Undefined: a pair without `=` (its text, to name in the error).
 */
export function parseMetadataFilter(raw: string | undefined): { filter: Record<string, string> } | { bad: string } {
  const filter: Record<string, string> = {};
  if (!raw) return { filter };
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) return { bad: pair };
    try {
      filter[decodeURIComponent(pair.slice(0, eq))] = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      return { bad: pair };
    }
  }
  return { filter };
}

/** Whether a running session passes the list's state and metadata filters (states OR-ed, case-insensitive). */
export function listed(s: RunningSession, states: string[], metadata: Record<string, string>): boolean {
  const state = s.paused ? 'Paused' : 'Running';
  if (states.length > 0 && !states.some((x) => x.toLowerCase() === state.toLowerCase())) return false;
  const own = s.peer?.metadata ?? {};
  return Object.entries(metadata).every(([k, v]) => own[k] === v);
}

export interface Pagination { page: number; pageSize: number; totalItems: number; totalPages: number; hasNextPage: boolean }

export function pageOf<T>(items: T[], page: number, pageSize: number): { items: T[]; pagination: Pagination } {
  const totalPages = Math.ceil(items.length / pageSize);
  return {
    items: items.slice((page - 1) * pageSize, page * pageSize),
    pagination: { page, pageSize, totalItems: items.length, totalPages, hasNextPage: page < totalPages },
  };
}

export { badEnvName, shellQuote as shQuote } from '../common.js';

/**
 * The shell text a command runs as: the sandbox's and the call's environment exported, in its directory,
 * in the background when asked (its output dropped, as the reference's detached mode keeps none here).
 */
export function commandText(command: string, opts: { envs?: Record<string, string>; cwd?: string; background?: boolean }): string {
  const exports = Object.entries(opts.envs ?? {}).map(([k, v]) => `export ${k}=${shQuote(v)}`);
  const cd = opts.cwd ? [`cd ${shQuote(opts.cwd)} || exit 1`] : [];
  const body = opts.background ? `(nohup sh -c ${shQuote(command)} >/dev/null 2>&1 &)` : command;
  return [...exports, ...cd, body].join('\n');
}

/** One of execd's stream events, as the SDKs parse it. */
export interface StreamEvent {
  type: 'init' | 'stdout' | 'stderr' | 'result' | 'execution_count' | 'error' | 'execution_complete' | 'status' | 'ping';
  timestamp: number;
  text?: string;
  execution_count?: number;
  execution_time?: number;
  results?: Record<string, unknown>;
  error?: { ename: string; evalue: string; traceback: string[] };
}

/** How an event goes on the wire: a standard server-sent `data:` frame (both SDKs also read bare JSON frames). */
export function sseFrame(e: StreamEvent): string {
  return `data: ${JSON.stringify(e)}\n\n`;
}

/** The end of a command: complete when it exited 0, else execd's CommandExecError carrying the exit code. */
export function commandEnd(exitCode: number, elapsedMs: number, now = Date.now()): StreamEvent {
  if (exitCode === 0) return { type: 'execution_complete', timestamp: now, execution_time: elapsedMs };
  return { type: 'error', timestamp: now, error: { ename: 'CommandExecError', evalue: String(exitCode), traceback: [`exit status ${exitCode}`] } };
}

/** A cell's rich results as execd's `results` maps: MIME type to content, `text/plain` named `text`. */
export function resultMaps(results: RunCodeOutput['results']): Array<Record<string, unknown>> {
  return results.map((r) => {
    const out: Record<string, unknown> = {};
    if (r.text !== undefined) out.text = r.text;
    if (r.html !== undefined) out['text/html'] = r.html;
    if (r.markdown !== undefined) out['text/markdown'] = r.markdown;
    if (r.svg !== undefined) out['image/svg+xml'] = r.svg;
    if (r.png !== undefined) out['image/png'] = r.png;
    if (r.jpeg !== undefined) out['image/jpeg'] = r.jpeg;
    if (r.latex !== undefined) out['text/latex'] = r.latex;
    if (r.json !== undefined) out['application/json'] = r.json;
    return out;
  }).filter((m) => Object.keys(m).length > 0);
}

/** The events that close a cell: its results, its count, its exception (traceback by line), complete. */
export function cellEnd(out: RunCodeOutput, elapsedMs: number, now = Date.now()): StreamEvent[] {
  const events: StreamEvent[] = [];
  if (out.execution_count > 0) events.push({ type: 'execution_count', timestamp: now, execution_count: out.execution_count });
  for (const results of resultMaps(out.results)) events.push({ type: 'result', timestamp: now, results });
  if (out.error) events.push({ type: 'error', timestamp: now, error: { ename: out.error.name, evalue: out.error.value, traceback: out.error.traceback.split('\n') } });
  else if (out.timed_out) events.push({ type: 'error', timestamp: now, error: { ename: 'TimeoutError', evalue: 'the cell ran past its time and was interrupted', traceback: [] } });
  events.push({ type: 'execution_complete', timestamp: now, execution_time: elapsedMs });
  return events;
}

/** OpenSandbox's languages durabox's interpreter contexts run; the rest are refused by name. */
export function contextLanguage(language: string | undefined): 'python' | 'javascript' | 'bash' | undefined {
  const l = (language ?? 'python').toLowerCase();
  if (l === 'python' || l === 'javascript' || l === 'bash') return l;
  return undefined;
}

/** execd's FileInfo. */
export interface FileInfo {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  modified_at: string;
  created_at: string;
  owner: string;
  group: string;
  mode: number;
}

/** The fields each path's record carries, NUL-separated: what `statFormat` and `findFormat` print. */
const FIELDS = 8;
/** `stat --printf` of a FileInfo: path, type letter, size, mtime, birth time (0: unknown), owner, group, octal mode. */
export const STAT_FORMAT = '%n\\0%F\\0%s\\0%Y\\0%W\\0%U\\0%G\\0%a\\0';
/** `find -printf` of the same (find knows no birth time: the change time stands in). */
export const FIND_FORMAT = '%p\\0%y\\0%s\\0%T@\\0%C@\\0%u\\0%g\\0%m\\0';

function typeOf(t: string): FileInfo['type'] {
  if (t === 'f' || t === 'regular file' || t === 'regular empty file') return 'file';
  if (t === 'd' || t === 'directory') return 'directory';
  if (t === 'l' || t === 'symbolic link') return 'symlink';
  return 'other';
}

function isoOfSeconds(s: string): string {
  const n = Number(s);
  return new Date(Number.isFinite(n) ? Math.floor(n * 1000) : 0).toISOString();
}

/** The records `stat`/`find` printed with the formats above, as FileInfo (paths as the container names them). */
export function parseFileRecords(text: string): FileInfo[] {
  const parts = text.split('\0');
  const out: FileInfo[] = [];
  for (let i = 0; i + FIELDS <= parts.length; i += FIELDS) {
    const [path, type, size, mtime, btime, owner, group, mode] = parts.slice(i, i + FIELDS) as [string, string, string, string, string, string, string, string];
    const modified = isoOfSeconds(mtime);
    out.push({
      path: path.replace(/^\n+/, ''),
      type: typeOf(type),
      size: Number(size) || 0,
      modified_at: modified,
      created_at: Number(btime) > 0 ? isoOfSeconds(btime) : modified,
      owner,
      group,
      // execd's mode is the octal digits read as a decimal number (644, 755).
      mode: Number(mode) || 0,
    });
  }
  return out;
}

/** A Range header's one byte range over a file of `size` bytes; undefined: none given; 'bad': unsatisfiable. */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | 'bad' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'bad';
  return { start, end };
}

// ---- the execd endpoint's token ---------------------------------------------------------------------

/** Account, sandbox, expiry, and `k`: the hash of the API key it was issued for (revoking the key ends it). */
interface TokenClaims { a: string; s: string; x: number; k: string }

/** A token that opens one sandbox's execd endpoint (account, session, expiry), signed with a key of its own. */
export function signExecdToken(hashKey: string, claims: TokenClaims): string {
  return signPeerToken(hashKey, 'x1', claims);
}

/** The token's claims when it is genuine, current and for this sandbox; else undefined. */
export function openExecdToken(hashKey: string, token: string | undefined, sessionId: string, nowMs = Date.now()): TokenClaims | undefined {
  const c = openPeerToken(hashKey, 'x1', token);
  if (!c || typeof c.a !== 'string' || typeof c.k !== 'string' || c.s !== sessionId || typeof c.x !== 'number' || c.x < nowMs) return undefined;
  return { a: c.a, s: c.s, x: c.x, k: c.k };
}

/** execd's Metrics. */
export interface Metrics { cpu_count: number; cpu_used_pct: number; mem_total_mib: number; mem_used_mib: number; timestamp: number }

/**
 * Metrics from what the sandbox's metrics command printed, a line each: the CPUs; MemTotal and
 * MemAvailable (kB); the cgroup's memory.current and memory.max (bytes or `max`; empty without cgroup v2);
 * the cgroup's CPU time (µs) before and after 0.2 s. The cgroup's numbers win where it has them.
 */
export function metricsOf(stdout: string, sampleMs = 200, now = Date.now()): Metrics {
  const lines = stdout.split('\n').map((l) => l.trim().split(/\s+/).filter(Boolean));
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  const cpus = num(lines[0]?.[0]) ?? 1;
  const mib = 1024 * 1024;
  const hostTotal = (num(lines[1]?.[0]) ?? 0) * 1024;
  const hostUsed = hostTotal - (num(lines[1]?.[1]) ?? 0) * 1024;
  const cgUsed = num(lines[2]?.[0]);
  const cgMax = num(lines[2]?.[1]);
  const u1 = num(lines[3]?.[0]);
  const u2 = num(lines[4]?.[0]);
  const busy = u1 !== undefined && u2 !== undefined && u2 >= u1 ? ((u2 - u1) / (sampleMs * 1000) / cpus) * 100 : 0;
  return {
    cpu_count: cpus,
    cpu_used_pct: Math.min(100, Math.max(0, busy)),
    mem_total_mib: (cgMax ?? hostTotal) / mib,
    mem_used_mib: Math.max(0, cgUsed ?? hostUsed) / mib,
    timestamp: now,
  };
}

/**
 * The code interpreter SDK's readiness probe: a TCP connect to Jupyter's port (44771) in the sandbox.
 * durabox's interpreters are no Jupyter server; they start with their first cell, so the probe is
 * answered "ready" without running (docs/peers/opensandbox.md).
 */
export function isInterpreterProbe(command: string): boolean {
  return /^bash -c 'exec 3<>\/dev\/tcp\/127\.0\.0\.1\/\$\{JUPYTER_PORT:-44771\}' && exit 0 \|\| exit 1$/.test(command.trim());
}
