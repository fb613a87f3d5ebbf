// The E2B peer's pure mappings (docs/peers/e2b.md): its tokens, the Connect protocol's framing and
// error codes, envd's file entries and process events, and how a command becomes one shell line.
// Nothing here touches the network or a session, so it is tested on its own (test/unit/peer-e2b.test.ts).
import type { FileEntry } from '../../contract/messages.js';
import { openPeerToken, PEER_HOME, shellQuote, signPeerToken, toPeerPath } from '../common.js';

/** The envd version durabox answers as: new enough for the SDKs' defaults and closing stdin, old enough for multipart uploads. */
export const ENVD_VERSION = '0.5.2';
/** The SDKs' constants: envd's port, and the code interpreter's. */
export const ENVD_PORT = 49983;
export const JUPYTER_PORT = 49999;

/** The header E2B's SDKs send a sandbox's traffic token in (its ports, the interpreter). */
export const E2B_TRAFFIC_HEADER = 'e2b-traffic-access-token';

// ---- tokens --------------------------------------------------------------------------------------

/** What a sandbox token opens: envd (X-Access-Token) or the sandbox's traffic (E2B-Traffic-Access-Token). */
export type TokenKind = 'envd' | 'traffic';
/** `a` the account, `s` the sandbox, `k` the kind, `h` the keyed hash of the API key it was given for (revoked with it). */
export interface SandboxClaims { a: string; s: string; k: TokenKind; h: string }

/** A token bound to one account's sandbox, signed with a key derived from DURABOX_HASH_KEY. */
export function signSandboxToken(hashKey: string, claims: SandboxClaims): string {
  return signPeerToken(hashKey, 'e2b1', { a: claims.a, s: claims.s, k: claims.k, h: claims.h });
}

/** The token's claims when it is genuine, of `kind`, else undefined. */
export function openSandboxToken(hashKey: string, token: string | undefined, kind: TokenKind): SandboxClaims | undefined {
  const c = openPeerToken(hashKey, 'e2b1', token);
  if (!c || typeof c.a !== 'string' || typeof c.s !== 'string' || typeof c.h !== 'string' || c.k !== kind) return undefined;
  return { a: c.a, s: c.s, k: kind, h: c.h };
}

// ---- Connect ----------------------------------------------------------------------------------------

/** Connect's error codes with the HTTP status a unary answer carries (connectrpc.com/docs/protocol). */
export const CONNECT_STATUS = {
  canceled: 499, unknown: 500, invalid_argument: 400, deadline_exceeded: 504, not_found: 404, already_exists: 409,
  permission_denied: 403, resource_exhausted: 429, failed_precondition: 400, aborted: 409, out_of_range: 400,
  unimplemented: 501, internal: 500, unavailable: 503, data_loss: 500, unauthenticated: 401,
} as const;
export type ConnectCode = keyof typeof CONNECT_STATUS;

/** A durabox error code as the Connect code an SDK maps to its own exception. */
export function connectCodeOf(code: string): ConnectCode {
  switch (code) {
    case 'invalid_input': case 'invalid_path': case 'path_outside_session': return 'invalid_argument';
    case 'unauthenticated': return 'unauthenticated';
    case 'forbidden': return 'permission_denied';
    case 'not_found': case 'session_not_found': case 'file_not_found': case 'context_not_found': return 'not_found';
    case 'conflict': return 'already_exists';
    case 'session_busy': return 'failed_precondition';
    case 'rate_limited': case 'quota_exceeded': case 'no_capacity': case 'host_full': return 'resource_exhausted';
    case 'timeout': return 'deadline_exceeded';
    case 'file_too_large': return 'resource_exhausted';
    case 'no_worker': case 'session_lost': case 'host_unreachable': case 'not_ready': return 'unavailable';
    default: return 'internal';
  }
}

/** An HTTP status as the Connect code nearest to it (a 4xx never becomes a 5xx code). */
export function connectCodeOfStatus(status: number): ConnectCode {
  const exact: Record<number, ConnectCode> = {
    400: 'invalid_argument', 401: 'unauthenticated', 403: 'permission_denied', 404: 'not_found', 409: 'already_exists',
    413: 'resource_exhausted', 429: 'resource_exhausted', 499: 'canceled', 501: 'unimplemented', 503: 'unavailable', 504: 'deadline_exceeded',
  };
  return exact[status] ?? (status >= 400 && status < 500 ? 'invalid_argument' : 'internal');
}

/** One enveloped message of a Connect stream: a flags byte, a big-endian length, the JSON. */
export function envelope(message: unknown, flags = 0): Buffer {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(json.length, 1);
  return Buffer.concat([head, json]);
}

/** The end of a Connect stream (flags 0x02): `{}` or `{"error": {code, message}}`. */
export function endOfStream(error?: { code: ConnectCode; message: string }): Buffer {
  return envelope(error ? { error } : {}, 0x02);
}

/** The first enveloped message of a streaming request's body (a server-streaming call sends exactly one). */
export function firstEnveloped(body: Buffer): unknown {
  if (body.length < 5) throw new Error('the body is not an enveloped Connect message');
  if ((body.readUInt8(0) & 0x01) !== 0) throw new Error('compressed Connect messages are not supported');
  const n = body.readUInt32BE(1);
  if (body.length < 5 + n) throw new Error('the enveloped message is shorter than its length');
  return JSON.parse(body.subarray(5, 5 + n).toString('utf8'));
}

// ---- processes ----------------------------------------------------------------------------------

export interface ProcessConfig { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string }

export { badEnvName, shellQuote } from '../common.js';

/**
 * The process envd would start, as one line for the session's shell: in its directory (the peer home is the
 * session's /workspace), with the sandbox's and the call's variables, the program and its arguments quoted.
 */
export function commandLine(p: ProcessConfig, sandboxEnvs: Record<string, string> = {}): string {
  const envs = { ...sandboxEnvs, ...p.envs };
  const exports = Object.entries(envs).map(([k, v]) => `export ${k}=${shellQuote(v)}; `).join('');
  // The peer home is a link to /workspace in durabox's images: a shell there says /home/user, as in E2B.
  const cwd = p.cwd ? `cd ${shellQuote(p.cwd)} && ` : `{ cd ${PEER_HOME} 2>/dev/null || cd /workspace; } && `;
  return `${exports}${cwd}exec ${[p.cmd, ...p.args].map(shellQuote).join(' ')}`;
}

/** A process event as envd streams it (bytes are base64 in proto JSON). */
export const processEvent = {
  start: (pid: number) => ({ event: { start: { pid } } }),
  data: (stream: 'stdout' | 'stderr', bytes: Buffer) => ({ event: { data: { [stream]: bytes.toString('base64') } } }),
  end: (exitCode: number, error?: string) => ({ event: { end: { exitCode, exited: true, status: `exit status ${exitCode}`, ...(error ? { error } : {}) } } }),
  keepalive: () => ({ event: { keepalive: {} } }),
};

/** Where a sandbox's processes keep their output and exit codes: /tmp/.e2b-proc/<pid>/{out,err,exit,meta.json}. */
export const PROC_DIR = '/tmp/.e2b-proc';

/**
 * The session command that starts a process detached and prints its pid: its script and record written
 * from base64 (no quoting of the caller's text), then a wrapper in a process group of its own that moves the
 * directory to its pid (a directory of an earlier process of that pid is gone first), runs the script with
 * its output in files, and writes the exit code at the end. The wrapper outlives a TERM (a handler, so the
 * script itself still gets the default action) to write that code. With `stdin`, the script reads a FIFO
 * (`in`) that a holder process keeps open for writing until stdin is closed (killing the holder is the EOF).
 */
export function launcherCommand(script: string, meta: string, stdin = false): string {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const run = stdin
    ? 'mkfifo in && { (exec sleep 2147483647 > in) & echo $! > holder; bash ./cmd.sh > out 2> err < in; }'
    : 'bash ./cmd.sh > out 2> err < /dev/null';
  const wrapper = `trap true TERM INT; d=${PROC_DIR}; rm -rf "$d/$$" && mv "$d/$1" "$d/$$" && cd "$d/$$" && { ${run}; echo $? > exit.tmp; mv exit.tmp exit; [ -f holder ] && kill "$(cat holder)" 2>/dev/null; }`;
  return [
    `mkdir -p ${PROC_DIR} && cd ${PROC_DIR} && t=$(mktemp -d new.XXXXXXXX)`,
    `printf %s ${b64(script)} | base64 -d > "$t/cmd.sh"`,
    `printf %s ${b64(meta)} | base64 -d > "$t/meta.json"`,
    `(setsid sh -c ${shellQuote(wrapper)} sh "$t" > /dev/null 2>&1 < /dev/null & echo $!)`,
  ].join(' && ');
}

/** The session command that writes bytes to a process's stdin (exit 1: no such process, or no stdin). */
export function stdinCommand(pid: number, data: Buffer): string {
  const dir = `${PROC_DIR}/${pid}`;
  // A process that stopped reading would block the write for good: it gets 5 seconds.
  return `[ -p ${dir}/in ] && [ -f ${dir}/holder ] && [ ! -e ${dir}/exit ] || exit 1; printf %s ${data.toString('base64')} | base64 -d | timeout 5 sh -c 'cat > ${dir}/in'`;
}

/** The session command that closes a process's stdin: its holder goes, the script reads EOF. */
export function closeStdinCommand(pid: number): string {
  const dir = `${PROC_DIR}/${pid}`;
  return `[ -f ${dir}/holder ] || exit 1; kill "$(cat ${dir}/holder)" 2>/dev/null; rm -f ${dir}/holder`;
}

/**
 * The session command that signals a process's group (exit 1: no such process). A KILL takes the wrapper
 * too, so the exit code it would have written (128 + 9) is written for it.
 */
export function signalCommand(pid: number, sig: 'TERM' | 'KILL'): string {
  const dir = `${PROC_DIR}/${pid}`;
  const kill = `[ -d ${dir} ] && [ ! -e ${dir}/exit ] && kill -s ${sig} -- -${pid} || exit 1`;
  if (sig === 'TERM') return kill;
  return `${kill}; sleep 0.2; [ -e ${dir}/exit ] || echo 137 > ${dir}/exit`;
}

// ---- files --------------------------------------------------------------------------------------

const FILE_TYPE = { file: 'FILE_TYPE_FILE', dir: 'FILE_TYPE_DIRECTORY', symlink: 'FILE_TYPE_SYMLINK', other: 'FILE_TYPE_UNSPECIFIED' } as const;

/** A durabox directory entry as envd's EntryInfo (proto JSON: int64 as a string, enums by name). */
export function entryInfo(dir: string, e: FileEntry, home?: string): Record<string, unknown> {
  const path = `${dir.replace(/\/+$/, '')}/${e.name}`;
  return {
    name: e.name,
    type: FILE_TYPE[e.type],
    path: toPeerPath(path, home),
    size: String(e.size),
    mode: e.type === 'dir' ? 0o755 : 0o644,
    permissions: e.type === 'dir' ? 'drwxr-xr-x' : '-rw-r--r--',
    owner: 'user',
    group: 'user',
    modifiedTime: e.modified,
  };
}

/** A path's directory and last name (`/` has none). */
export function splitPath(path: string): { dir: string; name: string } {
  const trimmed = path.replace(/\/+$/, '') || '/';
  const i = trimmed.lastIndexOf('/');
  return { dir: i <= 0 ? '/' : trimmed.slice(0, i), name: trimmed.slice(i + 1) };
}

// ---- the control API ----------------------------------------------------------------------------

/**
 * A sandbox's metadata filter of a list (`k=v&k2=v2`, each part form-encoded by the SDKs), as pairs. The
 * form decoding is the only one: a value the SDK encoded once (`100%` as `100%25`) is not decoded again.
 */
export function metadataFilter(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] = v;
  return out;
}

/** The states a list asks for (`running,paused`; none: both). */
export function stateFilter(raw: string | string[] | undefined): Set<'running' | 'paused'> {
  const parts = (Array.isArray(raw) ? raw : raw ? [raw] : []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  const set = new Set<'running' | 'paused'>();
  for (const p of parts) if (p === 'running' || p === 'paused') set.add(p);
  return set.size === 0 ? new Set(['running', 'paused']) : set;
}

/** A code interpreter language of E2B's as durabox's (undefined: not one durabox runs). */
export function languageOf(lang: string | null | undefined): 'python' | 'javascript' | 'bash' | undefined {
  const l = (lang ?? 'python').toLowerCase();
  if (l === 'python' || l === 'python3') return 'python';
  if (l === 'js' || l === 'javascript' || l === 'node' || l === 'nodejs') return 'javascript';
  if (l === 'bash' || l === 'sh') return 'bash';
  return undefined;
}
