// One zod schema per request and per response: it validates REST bodies and MCP arguments, types the
// handlers, and becomes the JSON Schema of the OpenAPI document and of the MCP tool listing, so the
// three never disagree. Request bodies are strict: an unknown field is refused, naming it, on REST as
// on MCP. Pure: no I/O.
import { z } from 'zod';
import type { Capability } from './capabilities.js';
import { DuraboxError } from './errors.js';
import { LIMIT_NAMES } from './limits.js';
import { templateField } from './templates.js';

const timeoutMs = (max: number, dflt: number) =>
  z.int().min(1).max(max).default(dflt).describe(`Wall-clock limit in milliseconds (1..${max}, default ${dflt}).`);

const nonBlank = (what: string) => z.string().refine((s) => s.trim().length > 0, { message: `${what} must not be blank` });

/**
 * An optional id as the reference platform reads it: surrounding whitespace is dropped, and an empty
 * (or whitespace-only) string means the id was not given.
 */
const optionalId = <T extends z.ZodType>(id: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.trim() || undefined : v), id.optional());

/** A word matched without regard to case or surrounding whitespace; empty means not given. */
const anyCase = <T extends z.ZodType>(inner: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v), inner);

/** Largest program or command once JSON-encoded: it travels in Temporal payloads, which refuse anything over 2 MB. */
export const SOURCE_MAX_JSON_BYTES = 1_500_000;
// Characters alone are not enough: '€' is 3 bytes and a control character 6 once encoded.
// Whitespace alone is refused, as the reference does: it is never a program.
const source = () => z.string().min(1).max(1_000_000)
  .refine((s) => s.trim().length > 0, { message: 'must not be blank' })
  .refine((s) => Buffer.byteLength(JSON.stringify(s)) <= SOURCE_MAX_JSON_BYTES, { message: `must be at most ${SOURCE_MAX_JSON_BYTES} bytes once JSON-encoded (UTF-8; a control character counts 6)` });

export const pythonExecInput = {
  code: source().describe('Python 3 source to run as a script; its stdout and stderr are returned.'),
  timeout_ms: timeoutMs(600_000, 60_000),
  template: templateField,
};
export const echoInput = {
  message: nonBlank('message').pipe(z.string().max(65_536)).describe('Text to send through a worker and back.'),
  timeout_ms: timeoutMs(60_000, 5_000),
};

export const sessionId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1..128 letters, digits, dot, dash or underscore');

/** A named snapshot's name, unique within its account (case matters). */
export const snapshotName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1..64 letters, digits, dot, dash or underscore, starting with a letter or digit');

export const terminalExecInput = {
  command: source().describe('Shell command, run as `sh -lc <command>` in the session\'s container.'),
  session_id: optionalId(sessionId).describe('The session to run in; omitted or empty: a new session is created.'),
  create_if_missing: z.boolean().default(false).describe('Create the session with this id when it does not exist.'),
  lease_ttl_sec: z.int().min(1).max(86_400).optional().describe('Keep the session at least this long after the call (within the configured lease bounds, else refused; never shortens).'),
  timeout_ms: timeoutMs(600_000, 60_000),
  template: templateField.describe('The template a new session runs in: terminal (built-in) or one of the account\'s on the terminal base (GET /templates). Only when this call creates the session.'),
  fork_from: optionalId(sessionId).describe('A live session of the account the new session forks: its /workspace (and saved python variables) as of that session\'s last acknowledged step, in its template; this call\'s command runs in the fork. Only when this call creates the session.'),
  from_snapshot: optionalId(snapshotName).describe('A named snapshot of the account (POST /sessions/:id/snapshots) the new session starts from: its /workspace is the snapshot\'s. Only when this call creates the session.'),
};

/** A file path inside a session: relative to /workspace, or absolute under /workspace or /tmp. */
export const sessionPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), { message: 'must not contain NUL bytes' })
  .refine((p) => !p.split('/').includes('..'), { message: 'must not contain .. segments (path traversal)' });

export const readImageInput = {
  session_id: nonBlank('session_id').pipe(sessionId),
  file_path: nonBlank('file_path').pipe(sessionPath).describe('Image file in the session, e.g. plot.png or /workspace/out/chart.png'),
  timeout_ms: timeoutMs(600_000, 60_000),
};
export const readFileInput = { session_id: sessionId, path: sessionPath, timeout_ms: timeoutMs(60_000, 30_000) };
export const writeFileInput = {
  session_id: sessionId,
  path: sessionPath,
  content: z.string().max(1_400_000).describe('File content: text, or base64 when encoding is base64.'),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
  timeout_ms: timeoutMs(60_000, 30_000),
};
export const listFilesInput = { session_id: sessionId, path: sessionPath.default('/workspace'), timeout_ms: timeoutMs(60_000, 30_000) };

export const terminalExecOutput = {
  session_id: z.string(),
  created: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  exit_code: z.int(),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  lease_expires_unix_ms: z.number(),
  restored: z.literal(true).optional().describe('the session was restored from its checkpoint for this call (it was paused, or its host was lost)'),
  restored_note: z.string().optional().describe('what came back and what did not (running processes, interpreter variables)'),
};

/**
 * A page of a list: at most 100, so one request never walks more than 10,000 items of Temporal's
 * visibility store (narrow the list with its filters instead).
 */
export const MAX_PAGE = 100;
const page = z.coerce.number().pipe(z.int().min(1).max(MAX_PAGE, `must be at most ${MAX_PAGE}: narrow the list with its filters`)).default(1);

export const TerminalExecInput = z.strictObject(terminalExecInput);

// ---- the code interpreter (spec §3.1) -------------------------------------------------------------
export const LANGUAGES = ['python', 'javascript', 'bash'] as const;
export type Language = (typeof LANGUAGES)[number];
const language = anyCase(z.enum(LANGUAGES).optional()).describe('python (IPython), javascript (Node.js) or bash; default: the context\'s language, else python');
export const contextId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1..64 letters, digits, dot, dash or underscore');

export const runCodeInput = {
  code: source().describe('The cell to run. In a context, variables, imports and definitions of earlier cells are there.'),
  language,
  session_id: optionalId(sessionId).describe('Run in this session\'s container, in an interpreter context that keeps its state; omitted: once, in a fresh sandbox.'),
  context_id: optionalId(contextId).describe('The context to run in (from POST /sessions/:id/contexts); omitted: the session\'s default context for the language, created on first use. Needs session_id.'),
  timeout_ms: timeoutMs(600_000, 60_000),
  template: templateField,
};
const contextNeedsSession = (v: { session_id?: string; context_id?: string; template?: string }, ctx: z.core.$RefinementCtx) => {
  if (v.context_id !== undefined && v.session_id === undefined) ctx.addIssue({ code: 'custom', path: ['context_id'], message: 'needs session_id: contexts live in sessions' });
  if (v.template !== undefined && v.session_id !== undefined) ctx.addIssue({ code: 'custom', path: ['template'], message: 'only for one-shot runs: a session runs in the template it was created with' });
};
export const RunCodeInput = z.strictObject(runCodeInput).superRefine(contextNeedsSession);
export const RunCodeCommandBody = z.strictObject({ ...runCodeInput, request_id: requestIdField() }).superRefine(contextNeedsSession);

export const CodeResult = z.object({
  is_main_result: z.boolean().describe('the value of the cell\'s last expression (as opposed to something displayed)'),
  text: z.string().optional(),
  html: z.string().optional(),
  markdown: z.string().optional(),
  svg: z.string().optional(),
  png: z.string().optional().describe('base64'),
  jpeg: z.string().optional().describe('base64'),
  latex: z.string().optional(),
  json: z.unknown().optional(),
});
export const CodeError = z.object({ name: z.string(), value: z.string(), traceback: z.string() });
export const runCodeOutput = {
  results: z.array(CodeResult).describe('rich results: the main result and every figure or display() of the cell'),
  logs: z.object({ stdout: z.array(z.string()), stderr: z.array(z.string()) }).describe('what the cell printed, in the chunks it arrived in'),
  error: CodeError.optional().describe('the exception the cell raised (a normal result, not a failed call)'),
  execution_count: z.int(),
  language: z.enum(LANGUAGES),
  session_id: z.string().optional(),
  context_id: z.string().optional(),
  timed_out: z.boolean().describe('the cell ran past timeout_ms and was interrupted'),
  context_restarted: z.boolean().describe('the context\'s process was started afresh for or by this call: earlier variables are gone'),
  context_restored: z.object({
    variables: z.array(z.string()).describe('the variables that came back'),
    not_restored: z.array(z.string()).describe('those that could not be saved (not picklable, or too large) or loaded'),
  }).optional().describe('the session was paused or moved since this context\'s last cell: its process started afresh and loaded the variables it had saved'),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
  results_truncated: z.boolean(),
  restored: z.literal(true).optional().describe('the session was restored from its checkpoint for this call (it was paused, or its host was lost)'),
  restored_note: z.string().optional().describe('what came back and what did not (running processes, interpreter variables)'),
};
export const RunCodeOutput = z.object(runCodeOutput);

export const ContextCreateBody = z.strictObject({ language: anyCase(z.enum(LANGUAGES).default('python')).describe('python, javascript or bash; default python') });
export const ContextView = z.object({ context_id: z.string(), language: z.enum(LANGUAGES), created_at: z.string().describe('RFC 3339 time') });
export const ContextList = z.object({ items: z.array(ContextView) });

function requestIdField() {
  return optionalId(z.string().max(128)).describe('Idempotency key, per account: the same key gives the same task (or command result) and never a second run; empty means none.');
}
const requestId = requestIdField();
export const TerminalCommandBody = z.strictObject({ ...terminalExecInput, request_id: requestId });

export interface LeaseBounds { minSec: number; maxSec: number }

/**
 * Why a lease_ttl_sec is refused, or undefined. The bounds are settings, so this is checked after the
 * static schema, with the reference's wording.
 */
export function leaseProblem(leaseTtlSec: number | undefined, b: LeaseBounds, field = 'lease_ttl_sec'): string | undefined {
  if (leaseTtlSec === undefined || (leaseTtlSec >= b.minSec && leaseTtlSec <= b.maxSec)) return undefined;
  return `${field} must be between ${b.minSec} and ${b.maxSec}`;
}

/**
 * `schema` that also refuses a lease outside the configured bounds (REST body, MCP and task input): its
 * `lease_ttl_sec`, or the field named (a set-lease call's `ttl_sec`).
 */
export function leaseWithin<T extends z.ZodType>(schema: T, b: LeaseBounds, field: 'lease_ttl_sec' | 'ttl_sec' = 'lease_ttl_sec'): T {
  return schema.superRefine((v, ctx) => {
    // Runs even when other fields failed: only a lease that is a number is judged here.
    const lease = (v as Record<string, unknown> | null)?.[field];
    const problem = typeof lease === 'number' ? leaseProblem(lease, b, field) : undefined;
    if (problem) ctx.addIssue({ code: 'custom', path: [field], message: problem });
  }) as unknown as T;
}
export const FilePathQuery = z.object({ path: sessionPath });
export const SessionListQuery = z.object({
  status: z.enum(['active', 'ended', 'all']).default('all'),
  page,
  page_size: z.coerce.number().pipe(z.int().min(1).max(100)).default(20),
});

export const PythonExecInput = z.strictObject(pythonExecInput);
export const EchoInput = z.strictObject(echoInput);

export const pythonExecOutput = {
  output: z.string().describe('stdout of the program'),
  stderr: z.string(),
  exit_code: z.int().describe('exit status; non-zero is a normal result'),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
};
export const echoOutput = { message: z.string() };

export const TaskCreateBody = z.strictObject({
  capability: nonBlank('capability').pipe(z.string().max(64)).describe('pythonExec, terminalExec or echo, in any case'),
  input: z.record(z.string(), z.unknown()).default({}).describe('The capability\'s input (JSON object).'),
  mode: anyCase(z.enum(['sync', 'async', 'auto']).default('auto')).describe('sync, async or auto, in any case (default auto)'),
  wait_ms: z.int().min(1).max(60_000).default(1500).describe('auto mode: how long to wait before answering 202 (at most timeout_ms)'),
  timeout_ms: timeoutMs(600_000, 60_000),
  request_id: requestId,
});

/** Text stored in or looked up in PostgreSQL, which refuses the NUL character (a 500 otherwise). */
const dbText = () => z.string().refine((s) => !s.includes('\0'), { message: 'must not contain NUL characters' });

export const LoginBody = z.strictObject({ username: dbText().pipe(z.string().min(1).max(64)), password: z.string().min(1).max(1024) });
/** A chosen token value must be as hard to guess as a generated one. */
export const MIN_TOKEN_BITS = 128;

/**
 * A conservative estimate of a chosen value's entropy: its length (counting at most twice its distinct
 * characters, so repeats and short cycles earn little) times the bits of the character classes it uses.
 */
export function tokenStrengthBits(value: string): number {
  const pool = (/[a-z]/.test(value) ? 26 : 0) + (/[A-Z]/.test(value) ? 26 : 0) + (/[0-9]/.test(value) ? 10 : 0) + (/[^A-Za-z0-9]/.test(value) ? 33 : 0);
  if (pool === 0) return 0;
  const chars = [...value];
  return Math.min(chars.length, 2 * new Set(chars).size) * Math.log2(pool);
}

export const TokenCreateBody = z.strictObject({
  name: nonBlank('name').pipe(dbText()).pipe(z.string().max(64)),
  token: z
    .string()
    .refine((s) => s.trim().length > 0, { message: 'token must not be blank' })
    .refine((s) => !/\s/u.test(s), { message: 'token must not contain whitespace' })
    .refine((s) => tokenStrengthBits(s) >= MIN_TOKEN_BITS, { message: `token must carry at least ${MIN_TOKEN_BITS} bits of entropy (e.g. 32 random hex digits or 22 random base64 characters); omit it to have one generated` })
    .pipe(dbText()) // its masked form is stored
    .pipe(z.string().max(256))
    .optional(),
});

export const TaskListQuery = z.object({
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled', 'timeout']).optional(),
  // It goes into a Temporal visibility query: a NUL there fails the query inside Temporal (a 500 after retries).
  capability: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a capability name: 1..64 letters, digits, _ . : -').optional(),
  page,
  page_size: z.coerce.number().pipe(z.int().min(1).max(100)).default(20),
});

/** Parses `value` or throws invalid_input (400) naming the field at fault. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what = 'request body'): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new DuraboxError('invalid_input', `invalid ${what}: ${describeIssues(r.error)}`);
}

/** `field: problem` for the first few issues; an unknown field is named by its own path. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      if (i.code === 'unrecognized_keys') {
        return i.keys.map((k) => `${[...i.path, k].join('.')}: unknown field`).join('; ');
      }
      const field = i.path.length ? i.path.join('.') : '(body)';
      return `${field}: ${i.message}`;
    })
    .join('; ');
}

/** The input schema of a capability, for POST /tasks. */
export function inputSchemaOf(capability: Capability, lease: LeaseBounds): z.ZodType {
  return { pythonExec: PythonExecInput, echo: EchoInput, terminalExec: leaseWithin(TerminalExecInput, lease), runCode: RunCodeInput }[capability];
}

// Accounts and the host registry (spec §4.1, §4.3).
const pageSize = z.coerce.number().pipe(z.int().min(1).max(100)).default(20);

export const RegisterBody = z.strictObject({
  username: dbText().pipe(z.string().trim().min(1, 'username must not be empty').max(64, 'username must be at most 64 characters')),
  password: nonBlank('password').pipe(z.string().max(1024)),
});
const limitValue = z.int('must be a whole number').min(0).max(1_000_000).nullable().optional();
/** An admin's overrides of one account's limits; null puts a limit back to its setting's default. */
export const LimitsBody = z.strictObject(Object.fromEntries(LIMIT_NAMES.map((n) => [n, limitValue])) as Record<(typeof LIMIT_NAMES)[number], typeof limitValue>)
  .refine((b) => Object.keys(b).length > 0, { message: `name at least one limit: ${LIMIT_NAMES.join(', ')}` });

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
/** Payloads as the Temporal UI sends them to a codec server: proto JSON, bytes in base64. */
export const CodecPayloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })).max(1000),
});

export const AccountListQuery = z.object({ page, page_size: pageSize });

export const WorkerListQuery = z.object({ page, page_size: pageSize, status: z.enum(['all', 'online', 'offline']).default('all') });
export const WorkerStatsQuery = z.object({ stale_after_sec: z.coerce.number().pipe(z.int().min(1).max(31_536_000)).default(30) });
/** The reference's clients send `{type: "normal"}`; durabox has one kind of worker. */
export const WorkerCreateBody = z.strictObject({ type: z.enum(['normal']).optional() }).default({});

/** What a runtime worker reports at start (`event: start`) and on every heartbeat. */
export const WorkerReportBody = z.strictObject({
  event: z.enum(['start', 'heartbeat']),
  node_name: z.string().max(255),
  executor_kind: z.string().max(64),
  version: z.string().max(64),
  labels: z.record(z.string().max(128), z.string().max(1024)).refine((l) => Object.keys(l).length <= 64, { message: 'at most 64 labels' }),
  capabilities: z.array(z.object({
    name: z.string().min(1).max(64),
    max_inflight: z.int().min(0).max(1_000_000),
    inflight: z.int().min(0).max(1_000_000),
  })).max(32),
  heartbeat_interval_sec: z.int().min(1).max(3600),
  heartbeat_jitter_pct: z.int().min(0).max(100).default(0),
  csr: z.string().max(8192).optional().describe('with the start report: a PEM certificate request for the host gateway (the key stays on the host)'),
  tunnel_address: z.string().max(255).optional().describe('where the API reaches this host\'s tunnel listener (host:port), for streams into its sessions'),
});

/** Ids in paths (tokens, accounts, workers): anything else cannot exist, so it is a 404 before any query. */
const RESOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export function isResourceId(id: string): boolean {
  return RESOURCE_ID.test(id);
}

// ---- responses ----------------------------------------------------------------------------------
// What each operation answers, as it goes on the wire (times are RFC 3339 strings).
const time = z.string().describe('RFC 3339 time');

export const ErrorBody = z.looseObject({ error: z.string().describe('what went wrong, naming the field at fault for bad input') });
/** Session calls also say the machine-readable code and, for a timed-out command, the output so far. */
export const SessionErrorBody = z.looseObject({
  error: z.string().describe('the reference platform\'s message, e.g. "session not found", "session is busy"'),
  code: z.string().describe('the machine-readable error code, e.g. session_not_found'),
  message: z.string().describe('what happened in this call'),
});

/** A request refused because one of the account's limits is reached. */
export const QuotaErrorBody = z.object({
  error: z.string(),
  code: z.literal('quota_exceeded'),
  limit: z.enum(LIMIT_NAMES).describe('the limit reached'),
  max: z.int().describe('its value for this account'),
});

export const HealthBody = z.object({ status: z.literal('ok') });
export const ReadyBody = z.object({ status: z.enum(['ready', 'not ready']), database: z.boolean(), temporal: z.boolean() });

export const AccountRef = z.object({ account_id: z.string(), username: z.string(), is_admin: z.boolean() });
export const ConsoleSessionBody = z.object({
  authenticated: z.literal(true),
  account: AccountRef,
  registration_enabled: z.boolean(),
  console_version: z.string(),
  temporal_ui_url: z.string().describe('durabox addition: where the dashboard links each workflow'),
  temporal_namespace: z.string(),
});
export const RegisteredBody = z.object({ account: AccountRef, created_at: time, updated_at: time });
const AccountItem = AccountRef.extend({ created_at: time, updated_at: time });

const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), total: z.int(), page: z.int(), page_size: z.int() });
export const AccountPage = pageOf(AccountItem);

const limitNumbers = z.object(Object.fromEntries(LIMIT_NAMES.map((n) => [n, z.int()])) as Record<(typeof LIMIT_NAMES)[number], z.ZodInt>);
export const AccountLimitsView = z.object({
  account_id: z.string(),
  limits: limitNumbers.describe('what the account works under'),
  overrides: z.object(Object.fromEntries(LIMIT_NAMES.map((n) => [n, z.int().nullable()])) as Record<(typeof LIMIT_NAMES)[number], z.ZodNullable<z.ZodInt>>).describe('set by an admin; null: the setting\'s default'),
  usage: limitNumbers.describe('what the account holds now (running tasks and live sessions from Temporal visibility)').optional(),
});

export const TokenView = z.object({ id: z.string(), name: z.string(), token_masked: z.string(), created_at: time, updated_at: time });
export const TokenList = z.object({ items: z.array(TokenView), total: z.int() });
export const TokenCreated = TokenView.extend({ token: z.string().describe('the plaintext, shown only in this answer'), generated: z.boolean() });

export const WorkerItem = z.object({
  node_id: z.string(),
  node_name: z.string(),
  executor_kind: z.string(),
  capabilities: z.array(z.object({ name: z.string(), max_inflight: z.int() })),
  labels: z.record(z.string(), z.string()),
  version: z.string(),
  status: z.enum(['online', 'offline']),
  registered_at: time,
  last_seen_at: time.nullable(),
});
export const WorkerPage = pageOf(WorkerItem);
export const WorkerStatsBody = z.object({ total: z.int(), online: z.int(), offline: z.int(), stale: z.int(), stale_after_sec: z.int(), generated_at: time });
export const WorkerInflightBody = z.object({
  workers: z.array(z.object({ node_id: z.string(), capabilities: z.array(z.object({ name: z.string(), inflight: z.int(), max_inflight: z.int() })) })),
  generated_at: time,
});
export const WorkerCreated = z.object({
  node_id: z.string(),
  command: z.string().describe('the full start command for the execution host, with its secret'),
  worker_secret: z.string().describe('shown only in this answer'),
});
/** Output chunks a runtime worker forwards while work runs (stream ids: a task id, or one the API made). */
export const OutputPostBody = z.strictObject({
  streams: z.array(z.strictObject({
    stream_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,191}$/, 'must be 1..192 letters, digits, _ . : -'),
    grant: z.string().min(1).max(2048).describe('the grant to post to this stream, from the step that runs its work'),
    chunks: z.array(z.strictObject({
      seq: z.int().min(0).max(2_147_483_647),
      stream: z.enum(['stdout', 'stderr']),
      text: z.string().max(262_144),
    })).max(1000),
  })).max(1000),
});
/** Which session's checkpoint a host writes or reads: the session's account and id, as its workflow names them. */
/** The header that carries a host's grant for a checkpoint (control/host-grants.ts). */
export const GRANT_HEADER = 'x-durabox-grant';

export const SnapshotQuery = z.object({
  account_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an account id'),
  session_id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a session id'),
});
/** A checkpoint a host uploads: the body is the gzipped tar (streamed, chunked); the store measures what it holds. */
export const SnapshotPutQuery = SnapshotQuery.extend({
  digest: z.string().regex(/^[0-9a-f]{64}$/, 'must be the sha256 of the uncompressed tar, in hex').optional()
    .describe('the sha256 the host computed, checked against the store\'s own; absent for a part streamed as it is made'),
  raw_bytes: z.coerce.number().pipe(z.int().min(0)).optional().describe('ignored: the store measures the tar itself'),
  kind: z.enum(['full', 'delta']).default('full').describe('full: the whole workspace, the chain\'s new base; delta: what changed since the part before'),
});
/** One part of a session's checkpoint chain. */
export const SnapshotPart = z.object({ seq: z.int(), kind: z.enum(['full', 'delta']), digest: z.string(), raw_bytes: z.int(), bytes: z.int(), created_at: time });
export const SnapshotStored = SnapshotPart;
export const SnapshotChain = z.object({ parts: z.array(SnapshotPart).describe('the base first, then the deltas, in the order they are unpacked; empty: no checkpoint') });
export const SnapshotPartQuery = SnapshotQuery.extend({
  seq: z.coerce.number().pipe(z.int().min(0)).optional().describe('the part to read (from the chain); absent: the base'),
});
export const RegistrySessions = z.object({ container_ids: z.array(z.string()).describe('containers the host must keep; any other session container of the host may go') });
export const RegistryAck = z.object({
  node_id: z.string(),
  status: z.literal('online'),
  offline_after_ms: z.int(),
  payload_keys: z.object({ current: z.string(), old: z.array(z.string()), acceptPlain: z.boolean().optional() }).optional().describe('with the start report only: the keys that seal Temporal payloads'),
  host_certificate: z.object({ cert: z.string(), ca: z.string() }).optional()
    .describe('with a start report that sent a csr, when hosts reach Temporal through the host gateway: the host certificate and the CA that also signs the gateway'),
  temporal_address: z.string().optional().describe('with host_certificate: the host gateway, where this host reaches Temporal'),
  tunnel_key: z.string().optional().describe('the public key (SPKI, base64) the host checks the API\'s tunnel grants with'),
});

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'timeout'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TaskBodySchema = z.object({
  task_id: z.string().describe('the Temporal workflow id'),
  request_id: z.string().nullable(),
  capability: z.string(),
  status: z.enum(TASK_STATUSES),
  result: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  created_at: time,
  updated_at: time,
  deadline_at: time,
  completed_at: time.optional(),
  status_url: z.string().optional(),
});
export type TaskBody = z.infer<typeof TaskBodySchema>;
export const TaskPage = pageOf(TaskBodySchema);

export const EchoOutput = z.object(echoOutput);
export const TerminalExecOutput = z.object(terminalExecOutput);

const SESSION_END_REASONS = ['closed', 'lease_expired', 'max_lifetime', 'session_lost', 'start_failed'] as const;
export const SessionSummarySchema = z.object({
  session_id: z.string(),
  status: z.enum(['starting', 'active', 'busy', 'paused', 'ended']).describe('paused: checkpointed and its container removed; the next call resumes it on any host'),
  host: z.string().nullable(),
  created_at: time.nullable(),
  lease_expires_unix_ms: z.number().nullable(),
  commands: z.int(),
  ended_reason: z.enum(SESSION_END_REASONS).optional(),
  checkpoint: z.object({
    at: time.describe('when /workspace was last saved (or found unchanged)'),
    bytes: z.int().describe('compressed size in the snapshot store'),
    raw_bytes: z.int().describe('size of the workspace as a tar'),
  }).optional().describe('the latest checkpoint of /workspace, from which the session is restored on another host or resumed after a pause'),
});
/** A fork's answer: the new session, as a session start answers it. */
export const ForkedSession = SessionSummarySchema.extend({
  created: z.literal(true),
  forked_from: z.string().describe('the session it was forked from'),
  restored_note: z.string().optional().describe('entries of the copied checkpoint its restore refused (links out of /workspace, special files), named'),
});
export const ForkBody = z.strictObject({
  lease_ttl_sec: z.int().min(1).max(86_400).optional().describe('The new session\'s first lease (within the configured lease bounds, else refused); default the configured one.'),
}).default({});
/** A set-lease call: the lease ends ttl_sec from now, shorter or longer than it was. */
export const SessionLeaseBody = z.strictObject({
  ttl_sec: z.int().min(1).max(86_400).describe('The lease ends this many seconds from now, sooner or later than it would have (within the configured lease bounds, else refused; never past the session\'s max lifetime).'),
});
export const SnapshotCreateBody = z.strictObject({ name: nonBlank('name').pipe(snapshotName).describe('The snapshot\'s name within the account.') });
export const SnapshotView = z.object({
  name: z.string(),
  session_id: z.string().describe('the session it was taken from (which may have ended since)'),
  template: z.string().nullable().describe('the account template that session ran in; null: the built-in terminal one'),
  parts: z.int().describe('parts of the checkpoint chain it holds (a base and deltas)'),
  bytes: z.int().describe('its size in the snapshot store, compressed'),
  raw_bytes: z.int().describe('the workspace as tar, summed over its parts'),
  created_at: time,
});
export const SnapshotList = z.object({ items: z.array(SnapshotView), total: z.int() });
export const SnapshotDeleted = z.object({ name: z.string(), deleted: z.literal(true) });
export const SessionListItemSchema = SessionSummarySchema.extend({ workflow_id: z.string(), ended_at: time.optional() });
export const SessionPage = pageOf(SessionListItemSchema);

export const FileEntrySchema = z.object({ name: z.string(), type: z.enum(['file', 'dir', 'symlink', 'other']), size: z.number(), modified: time });
export const FileListing = z.object({ path: z.string(), entries: z.array(FileEntrySchema) });
export const FileWritten = z.object({ op: z.literal('write'), path: z.string(), size: z.number() });

// ---- MCP tool inputs and outputs ----------------------------------------------------------------
// echo, pythonExec and terminalExec take EchoInput, PythonExecInput and TerminalExecInput above.
export const ReadImageToolInput = z.strictObject(readImageInput);
export const ReadFileToolInput = z.strictObject(readFileInput);
export const WriteFileToolInput = z.strictObject(writeFileInput);
export const ListFilesToolInput = z.strictObject(listFilesInput);
export const SessionForkToolInput = z.strictObject({ session_id: nonBlank('session_id').pipe(sessionId).describe('The session to fork.'), lease_ttl_sec: ForkBody.unwrap().shape.lease_ttl_sec });
/** sessionPause and sessionResume: the session is all they name. */
export const SessionToolInput = z.strictObject({ session_id: nonBlank('session_id').pipe(sessionId).describe('The session.') });
export const SnapshotCreateToolInput = z.strictObject({ session_id: nonBlank('session_id').pipe(sessionId).describe('The session to snapshot.'), name: SnapshotCreateBody.shape.name });
export const SnapshotListToolInput = z.strictObject({});
export const SnapshotDeleteToolInput = z.strictObject({ name: SnapshotCreateBody.shape.name.describe('The snapshot to delete.') });

export const PythonExecOutput = z.object(pythonExecOutput);
export const ReadFileOutput = z.object({
  path: z.string(),
  size: z.number().optional(),
  encoding: z.enum(['utf8', 'base64']).optional(),
  content: z.string().optional(),
  mime: z.string().optional(),
  entries: z.array(FileEntrySchema).optional(),
});
export const WriteFileOutput = z.object({ path: z.string(), size: z.number() });

// --- The workbench's streams (ports, terminal, browser endpoint) -------------------------------------------
export const SessionPorts = z.object({
  ports: z.array(z.object({
    port: z.int().describe('a TCP port something in the session listens on'),
    path: z.string().describe('where the API serves it: /api/v1/sessions/{id}/ports/{port}/ (a bearer token, the dashboard\'s login cookie, or a signed link)'),
    preview_url: z.string().optional().describe('with DURABOX_PREVIEW_DOMAIN: the same on an origin of its own (a signed link opens it in a browser)'),
  })),
});
export const ServiceCreateBody = z.strictObject({
  port: z.int().min(1).max(65535).describe('The port the service listens on, in the session (127.0.0.1 or ::1 is enough).'),
  command: nonBlank('command').pipe(z.string().max(4096)).describe('The shell command that starts it (run with sh -lc in /workspace, in the background). It is started again by the first request to the port after the session resumes or moves.'),
  start: z.boolean().default(true).describe('Start it now and answer once it listens (default); false only registers it.'),
});
export const ServiceView = z.object({
  port: z.int(),
  command: z.string(),
  path: z.string().describe('where the API serves the port'),
  listening: z.boolean().describe('the service answered on its port before this call returned'),
  preview_url: z.string().optional(),
});
export const LinkCreateBody = z.strictObject({
  port: z.int().min(1).max(65535).optional().describe('The port the link opens; omit it (and set pty) for the session\'s terminal.'),
  pty: z.literal(true).optional().describe('The link opens the session\'s terminal (GET /sessions/{id}/pty, a WebSocket) instead of a port.'),
  ttl_sec: z.int().min(10).max(86_400).default(3600).describe('How long the link opens it (10 s to 1 day; default 1 hour).'),
}).refine((b) => (b.port === undefined) !== (b.pty === undefined), { message: 'port or pty: give exactly one', path: ['port'] });
export const LinkView = z.object({
  path: z.string().describe('the link as a path on this API: for a port /api/v1/links/<link>/ (the page\'s relative URLs keep the link), for the terminal /api/v1/sessions/{id}/pty?durabox_link=<link>'),
  url: z.string().describe('the link as a URL, as this request reached the API'),
  preview_url: z.string().optional().describe('for a port, with DURABOX_PREVIEW_DOMAIN: the link on the port\'s own origin'),
  expires_at: time,
});
// ---- dashboard session page ---------------------------------------------------------------------
/** A session as its dashboard page shows it: its state, its workflow, its checkpoint chain and named snapshots. */
export const ConsoleSessionView = SessionSummarySchema.extend({
  workflow_id: z.string().describe('the session\'s workflow, as the Temporal UI names it'),
  chain: z.object({
    generation: z.int().nullable().describe('the newest container generation that wrote or claimed the chain (null: nothing stored yet); one more for each move or resume'),
    parts_total: z.int(),
    parts: z.array(z.object({ seq: z.int(), kind: z.enum(['full', 'delta']), bytes: z.int(), raw_bytes: z.int(), created_at: time })).describe('the newest parts, newest last (a base and the deltas after it)'),
  }).describe('the checkpoint chain of /workspace in the snapshot store'),
  snapshots: z.array(SnapshotView).describe('the account\'s named snapshots taken from this session'),
});
/** A fork from the dashboard: its lease is the configured default. */
export const ConsoleForkBody = z.strictObject({}).default({});


// ---- Browser (workbench: the session's headless Chromium, spec §3.4; docs/workbench/browser.md) --------
/** The most a page's screenshot or PDF may weigh: it is one MCP image item or one REST answer. */
export const BROWSER_CAPTURE_MAX_BYTES = 8 * 1024 * 1024;
/** The most characters of HTML or of an evaluated result's JSON answered; the rest is cut (truncated: true). */
export const BROWSER_TEXT_MAX_CHARS = 512 * 1024;
export const BROWSER_WAIT_UNTIL = ['load', 'domcontentloaded', 'networkidle', 'commit'] as const;
export const BROWSER_WAIT_STATES = ['visible', 'attached', 'hidden'] as const;

const browserTimeout = timeoutMs(120_000, 30_000);
const browserSelector = nonBlank('selector').pipe(z.string().max(4096))
  .describe('A Playwright selector for the element: CSS ("#login button.primary"), "text=Sign in", or "xpath=//h1"; the first match is used.');
/**
 * Where the browser may go: http and https (the session's own localhost, and whatever its template's network
 * reaches), and about:blank. file:, chrome:, data:, javascript: and other schemes are refused: the session's
 * files are read with the file tools (or served by a local HTTP server), and Chromium's internal pages are
 * no part of the tool.
 */
export const browserUrl = z.string().min(1).max(8192).superRefine((u, ctx) => {
  if (u === 'about:blank') return;
  let scheme: string;
  try { scheme = new URL(u).protocol; } catch { ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL such as http://localhost:3000/ (or about:blank)' }); return; }
  if (scheme !== 'http:' && scheme !== 'https:') ctx.addIssue({ code: 'custom', message: `scheme ${scheme} is not allowed: only http:, https: and about:blank (read the session's files with the file tools, or serve them on localhost)` });
}).describe('http:// or https:// URL (the session\'s own http://localhost:PORT/ always works), or about:blank.');

export const BrowserNavigateBody = z.strictObject({
  url: browserUrl,
  wait_until: z.enum(BROWSER_WAIT_UNTIL).default('load').describe('When navigation counts as done: load (default), domcontentloaded, networkidle (no requests for 500 ms) or commit.'),
  timeout_ms: browserTimeout,
});
export const BrowserScreenshotBody = z.strictObject({
  full_page: z.boolean().default(false).describe('The whole scrollable page instead of the viewport.'),
  selector: browserSelector.optional().describe('Only this element (then full_page is ignored); waits for it up to timeout_ms.'),
  timeout_ms: browserTimeout,
});
export const BrowserClickBody = z.strictObject({ selector: browserSelector, timeout_ms: browserTimeout });
export const BrowserTypeBody = z.strictObject({
  selector: browserSelector,
  text: z.string().max(100_000).describe('The text the field gets (it replaces what the field held).'),
  submit: z.boolean().default(false).describe('Press Enter in the field afterwards (submits its form).'),
  timeout_ms: browserTimeout,
});
export const BrowserEvaluateBody = z.strictObject({
  expression: nonBlank('expression').pipe(z.string().max(100_000))
    .describe('A JavaScript expression run in the page, e.g. "document.querySelectorAll(\'li\').length" or "(() => { ... })()"; a promise is awaited.'),
  timeout_ms: browserTimeout,
});
export const BrowserHtmlBody = z.strictObject({
  selector: browserSelector.optional().describe('Only this element\'s outerHTML; omitted: the whole document.'),
  timeout_ms: browserTimeout,
});
export const BrowserWaitBody = z.strictObject({
  selector: browserSelector,
  state: z.enum(BROWSER_WAIT_STATES).default('visible').describe('visible (default), attached (in the DOM, maybe hidden) or hidden (absent or not visible).'),
  timeout_ms: browserTimeout,
});
export const BrowserPdfBody = z.strictObject({ timeout_ms: browserTimeout });

export const BrowserPageInfo = z.object({ url: z.string(), title: z.string() });
export const BrowserNavigated = BrowserPageInfo.extend({ status: z.int().nullable().describe('the main document\'s HTTP status; null for about:blank or a same-document navigation') });
export const BrowserActed = BrowserPageInfo.extend({ selector: z.string() });
export const BrowserWaited = BrowserActed.extend({ state: z.enum(BROWSER_WAIT_STATES) });
export const BrowserEvaluated = BrowserPageInfo.extend({
  result: z.unknown().describe('the value as JSON (undefined becomes null); when truncated, the start of its JSON text'),
  truncated: z.boolean(),
});
export const BrowserHtml = BrowserPageInfo.extend({ html: z.string(), chars: z.int().describe('the whole HTML\'s length'), truncated: z.boolean() });
export const BrowserCapture = BrowserPageInfo.extend({ size: z.int().describe('bytes'), mime: z.string() });

const browserSession = { session_id: nonBlank('session_id').pipe(sessionId).describe('A session of the browser template (or of an account template with browser: true).') };
export const BrowserInfoToolInput = z.strictObject(browserSession);
export const BrowserNavigateToolInput = z.strictObject({ ...browserSession, ...BrowserNavigateBody.shape });
export const BrowserScreenshotToolInput = z.strictObject({ ...browserSession, ...BrowserScreenshotBody.shape });
export const BrowserClickToolInput = z.strictObject({ ...browserSession, ...BrowserClickBody.shape });
export const BrowserTypeToolInput = z.strictObject({ ...browserSession, ...BrowserTypeBody.shape });
export const BrowserEvaluateToolInput = z.strictObject({ ...browserSession, ...BrowserEvaluateBody.shape });
export const BrowserHtmlToolInput = z.strictObject({ ...browserSession, ...BrowserHtmlBody.shape });
export const BrowserWaitToolInput = z.strictObject({ ...browserSession, ...BrowserWaitBody.shape });
export const BrowserPdfToolInput = z.strictObject({ ...browserSession, ...BrowserPdfBody.shape });
export const ExposePortToolInput = z.strictObject({
  session_id: nonBlank('session_id').pipe(sessionId).describe('The session whose port to serve.'),
  port: z.int().min(1).max(65535).describe('The port a server listens on inside the session (127.0.0.1 is enough).'),
  command: nonBlank('command').pipe(z.string().max(4096)).optional().describe('The shell command that starts the server (sh -lc, in /workspace, in the background). durabox starts it now if nothing listens yet, and again after the session resumes or moves. Omit it for a server you already started.'),
  link_ttl_sec: z.int().min(10).max(86_400).default(3600).describe('How long the answered link opens the port (default 1 hour).'),
});
export const ExposedPort = z.object({
  port: z.int(),
  listening: z.literal(true),
  url: z.string().describe('a signed link that opens the port without a token until expires_at: give it to the user'),
  path: z.string().describe('the port on this API, for callers with a token'),
  preview_url: z.string().optional().describe('the port on an origin of its own (DURABOX_PREVIEW_DOMAIN), with the link'),
  expires_at: time,
  command: z.string().optional(),
});
export const ListPortsToolInput = z.strictObject({ session_id: nonBlank('session_id').pipe(sessionId).describe('The session whose listening ports to list.') });
// ---- File tools (glob, grep, edit, move, copy, mkdir: docs/workbench/file-tools.md) -------------------
/** Largest old_text or new_text of an edit once JSON-encoded: both travel in one Temporal payload (2 MB at most). */
export const EDIT_TEXT_MAX_JSON_BYTES = 700_000;
const editText = (what: string) => z.string().max(700_000)
  .refine((s) => Buffer.byteLength(JSON.stringify(s)) <= EDIT_TEXT_MAX_JSON_BYTES, { message: `${what} must be at most ${EDIT_TEXT_MAX_JSON_BYTES} bytes once JSON-encoded` });
const noNul = (s: string) => !s.includes('\0');
const globPattern = nonBlank('pattern').pipe(z.string().max(1000)
  .refine(noNul, { message: 'must not contain NUL bytes' })
  .refine((g) => !g.startsWith('/'), { message: 'must be relative to path (start it without /)' })
  .refine((g) => !g.split('/').includes('..'), { message: 'must not contain .. segments (path traversal)' }));
const regexPattern = z.string().min(1).max(1000).refine(noNul, { message: 'must not contain NUL bytes' });
/** A boolean in a query string: true/false or 1/0. */
const queryBool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const globFields = {
  pattern: globPattern.describe('Glob relative to path: * and ? within one name, ** any directories (**/*.ts: at any depth), [abc], {a,b}. *.ts matches only directly in path.'),
  path: sessionPath.default('/workspace').describe('Directory searched (relative to /workspace, or under /workspace or /tmp); default /workspace.'),
};
const globLimit = (coerce: boolean) => (coerce ? z.coerce.number() : z.number()).pipe(z.int().min(1).max(10_000)).default(1000).describe('Most paths answered (1..10000, default 1000); truncated says when there were more.');
const grepFields = {
  pattern: regexPattern.describe('Perl-compatible regular expression (grep -P), matched line by line, e.g. def \\w+\\( or TODO|FIXME.'),
  path: sessionPath.default('/workspace').describe('File or directory searched, directories recursively (relative to /workspace, or under /workspace or /tmp); default /workspace.'),
  glob: globPattern.optional().describe('Only files whose path matches this glob: *.py (no /) matches the name at any depth, src/**/*.ts a path relative to path.'),
};
const grepLimit = (coerce: boolean) => (coerce ? z.coerce.number() : z.number()).pipe(z.int().min(1).max(2000)).default(200).describe('Most matching lines answered (1..2000, default 200); truncated says when there were more.');
const editFields = {
  path: sessionPath.describe('The file to edit (relative to /workspace, or under /workspace or /tmp).'),
  old_text: editText('old_text').refine((s) => s.length > 0, { message: 'must not be empty (write the file to create it)' }).describe('Exact text to replace, whitespace and line endings included; it must appear exactly once unless replace_all.'),
  new_text: editText('new_text').describe('The text that replaces it (may be empty: the old text is removed).'),
  replace_all: z.boolean().default(false).describe('Replace every occurrence of old_text, not just a unique one.'),
};
const sameText = (v: { old_text: string; new_text: string }, ctx: z.RefinementCtx) => {
  if (v.old_text === v.new_text) ctx.addIssue({ code: 'custom', path: ['new_text'], message: 'must differ from old_text (the edit would change nothing)' });
};
const moveFields = {
  from: sessionPath.describe('The file or directory to move (a symlink is moved itself).'),
  to: sessionPath.describe('Its new full path (not a directory to move it into); missing parent directories are created.'),
  overwrite: z.boolean().default(false).describe('Replace a file already at to (a directory there is never replaced).'),
};
const copyFields = {
  from: sessionPath.describe('The file or directory to copy.'),
  to: sessionPath.describe('The copy\'s full path (not a directory to copy into); missing parent directories are created.'),
  recursive: z.boolean().default(false).describe('Needed to copy a directory (with everything in it).'),
  overwrite: z.boolean().default(false).describe('Replace a file already at to (a directory there is never replaced).'),
};
const mkdirFields = {
  path: sessionPath.describe('The directory to create (relative to /workspace, or under /workspace or /tmp).'),
  parents: z.boolean().default(false).describe('Create missing parent directories too, and accept a directory that already exists (mkdir -p).'),
};
const toolSession = nonBlank('session_id').pipe(sessionId).describe('The terminal session (its session_id, from terminalExec).');

export const FileGlobQuery = z.object({ ...globFields, limit: globLimit(true) });
export const FileGrepQuery = z.object({ ...grepFields, ignore_case: queryBool.default(false).describe('Match without regard to case (true/false).'), limit: grepLimit(true) });
export const FileEditBody = z.strictObject(editFields).superRefine(sameText);
export const FileMoveBody = z.strictObject(moveFields);
export const FileCopyBody = z.strictObject(copyFields);
export const FileMkdirBody = z.strictObject(mkdirFields);

export const GlobToolInput = z.strictObject({ session_id: toolSession, ...globFields, limit: globLimit(false) });
export const GrepToolInput = z.strictObject({ session_id: toolSession, ...grepFields, ignore_case: z.boolean().default(false).describe('Match without regard to case.'), limit: grepLimit(false) });
export const EditFileToolInput = z.strictObject({ session_id: toolSession, ...editFields }).superRefine(sameText);
export const MoveFileToolInput = z.strictObject({ session_id: toolSession, ...moveFields });
export const CopyFileToolInput = z.strictObject({ session_id: toolSession, ...copyFields });
export const MakeDirectoryToolInput = z.strictObject({ session_id: toolSession, ...mkdirFields });

export const FileGlobResult = z.object({ path: z.string(), matches: z.array(z.string()).describe('absolute paths in the container, sorted'), truncated: z.boolean() });
export const GrepMatchSchema = z.object({ path: z.string().describe('absolute path in the container'), line: z.int().describe('1-based'), text: z.string().describe('the line, cut after 500 characters (…)') });
export const FileGrepResult = z.object({ path: z.string(), matches: z.array(GrepMatchSchema), truncated: z.boolean() });
export const FileEdited = z.object({ path: z.string(), replacements: z.int(), size: z.int().describe('the file\'s size after the edit, in bytes') });
export const FileMoved = z.object({ from: z.string(), to: z.string() });
export const FileCopied = z.object({ from: z.string(), to: z.string() });
export const DirectoryMade = z.object({ path: z.string(), created: z.boolean().describe('false: it already existed (parents)') });
