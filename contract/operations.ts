// One record per REST operation: method, path, auth, request and response schemas. The API registers
// its routes from these records (a handler per record, checked by the compiler), validates requests
// with them, and the OpenAPI document is generated from them, so the three cannot drift.
import { z } from 'zod';
import * as S from './schemas.js';
import * as T from './templates.js';

export type Auth = 'none' | 'token' | 'login' | 'admin' | 'worker';

export interface Response {
  description: string;
  /** The JSON body; absent for an empty answer (204) or a body that is not JSON. */
  schema?: z.ZodType;
  /** For bodies that are not JSON. */
  contentType?: string;
  /** Also answered as Server-Sent Events when the request says `Accept: text/event-stream`. */
  events?: boolean;
}

export interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  /** OpenAPI form: `{id}` for a path parameter. */
  path: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  /** The body is raw bytes (a file upload), not JSON. */
  rawBody?: true;
  query?: z.ZodObject;
  responses: Record<number, Response>;
}

// Each helper keeps its schema's own type (not Response's z.ZodType), so the typed client
// (client/index.ts) knows what every answer holds.
const json = <S extends z.ZodType>(description: string, schema: S) => ({ description, schema });
const error = (description: string) => ({ description, schema: S.ErrorBody });
const sessionError = (description: string) => ({ description, schema: S.SessionErrorBody });
const empty = (description: string): Response => ({ description });

const bad = error('invalid input: the message names the field');
const unauthenticated = error('not authenticated');
const adminOnly = error('admin only');
const notFound = error('not found');
const crossOrigin = error('a login-cookie call that changes something, from a page other than the API\'s own (its Origin header)');

/** Answers every session call may give besides its own. */
const sessionFailures = {
  400: bad,
  401: unauthenticated,
  404: sessionError('session_not_found'),
  409: sessionError('session_busy'),
  429: sessionError('no_capacity (no host has room), quota_exceeded (the account\'s max_sessions), or rate_limited (too many calls in flight on the session)'),
  502: sessionError('session_lost or another execution failure'),
  503: sessionError('no_worker'),
  504: sessionError('timeout: the command was killed, the session is kept'),
};
const fileFailures = {
  ...sessionFailures,
  400: { description: 'invalid input, or a path outside the session', schema: z.union([S.ErrorBody, S.SessionErrorBody]) },
  404: sessionError('session_not_found or file_not_found'),
  413: sessionError('file_too_large'),
};
/** Answers of the browser calls (workbench; docs/workbench/browser.md): failures carry {error, code, message}. */
const browserFailures = {
  400: { description: 'invalid input (the message names the field, e.g. a selector that does not parse)', schema: z.union([S.ErrorBody, S.SessionErrorBody]) },
  401: unauthenticated,
  404: sessionError('session_not_found'),
  409: sessionError('browser_unavailable: the session\'s template has no browser, or its Chromium did not answer'),
  413: sessionError('capture_too_large: the screenshot or PDF is over the cap'),
  422: sessionError('selector_timeout (the element never reached the state), navigation_failed (net::ERR_…, or no load in time) or script_error'),
  502: sessionError('execution_failed or session_lost'),
  503: sessionError('host_unreachable: the host holding the session does not answer'),
  504: sessionError('timeout: the page did not answer'),
};
const browserPost = <A extends string, B extends z.ZodType, R extends Response>(action: A, summary: string, body: B, ok: R) =>
  ({ method: 'post' as const, path: `/api/v1/sessions/{id}/browser/${action}` as const, summary, auth: 'token' as const, body, responses: { 200: ok, ...browserFailures } });

/** Answers of the file tools besides their own (docs/workbench/file-tools.md). */
const fileTools = {
  ...fileFailures,
  400: { description: 'invalid input (the message names the field), invalid_pattern, or a path outside the session', schema: z.union([S.ErrorBody, S.SessionErrorBody]) },
  409: sessionError('session_busy, or file_exists: the target exists (set overwrite, or parents for mkdir)'),
};
const taskAnswers = {
  200: { ...json('succeeded (or, with Accept: text/event-stream, the task as events)', S.TaskBodySchema), events: true },
  202: json('still running', S.TaskBodySchema),
  400: bad,
  401: unauthenticated,
  404: json('failed with session_not_found or file_not_found; or template_not_found, refused before any task was made', z.union([S.TaskBodySchema, S.ErrorBody])),
  409: json('canceled, or failed with session_busy; or template_not_ready, refused before any task was made', z.union([S.TaskBodySchema, S.ErrorBody])),
  413: json('failed with file_too_large', S.TaskBodySchema),
  429: json('failed with no_capacity, or refused with quota_exceeded before any task was made', z.union([S.TaskBodySchema, S.QuotaErrorBody])),
  502: json('failed', S.TaskBodySchema),
  503: json('failed with no_worker', S.TaskBodySchema),
  504: json('timed out', S.TaskBodySchema),
};

export const OPERATIONS = {
  health: { method: 'get', path: '/healthz', summary: 'The process is up', auth: 'none', responses: { 200: json('ok', S.HealthBody) } },
  ready: { method: 'get', path: '/readyz', summary: 'Temporal and the database are reachable', auth: 'none', responses: { 200: json('ready', S.ReadyBody), 503: json('not ready', S.ReadyBody) } },
  metrics: { method: 'get', path: '/metrics', summary: 'Prometheus metrics (with DURABOX_METRICS_TOKEN set, only for Authorization: Bearer <it>)', auth: 'none', responses: { 200: { description: 'text exposition format', contentType: 'text/plain' }, 401: unauthenticated } },
  openapi: { method: 'get', path: '/api/v1/openapi.json', summary: 'This document', auth: 'none', responses: { 200: { description: 'OpenAPI 3.1', contentType: 'application/json' } } },
  mcp: { method: 'post', path: '/mcp', summary: 'MCP, Streamable HTTP, stateless, JSON responses', auth: 'token', responses: { 200: { description: 'JSON-RPC response', contentType: 'application/json' }, 202: empty('notification accepted'), 400: { description: 'not JSON-RPC, or an empty batch: a JSON-RPC error with id null', contentType: 'application/json' }, 401: unauthenticated, 406: { description: 'Accept must allow application/json and text/event-stream', contentType: 'application/json' }, 415: { description: 'Content-Type must be application/json', contentType: 'application/json' } } },
  mcpGet: { method: 'get', path: '/mcp', summary: 'Not allowed: the MCP endpoint takes POST only', auth: 'none', responses: { 405: error('Allow: POST') } },
  mcpDelete: { method: 'delete', path: '/mcp', summary: 'Not allowed: the MCP endpoint is stateless', auth: 'none', responses: { 405: error('Allow: POST') } },

  login: { method: 'post', path: '/api/v1/console/login', summary: 'Log in to the dashboard (sets the session cookie)', auth: 'none', body: S.LoginBody, responses: { 200: json('logged in', S.ConsoleSessionBody), 400: bad, 401: error('wrong credentials'), 429: error('too many failed attempts') } },
  consoleSession: { method: 'get', path: '/api/v1/console/session', summary: 'The logged-in account', auth: 'login', responses: { 200: json('session', S.ConsoleSessionBody), 401: unauthenticated } },
  logout: { method: 'post', path: '/api/v1/console/logout', summary: 'Log out', auth: 'none', responses: { 204: empty('logged out') } },
  register: { method: 'post', path: '/api/v1/console/register', summary: 'Create a non-admin account (admin, registration enabled)', auth: 'login', body: S.RegisterBody, responses: { 201: json('created', S.RegisteredBody), 400: bad, 401: unauthenticated, 403: error('disabled or not admin'), 409: error('username taken') } },
  listAccounts: { method: 'get', path: '/api/v1/console/accounts', summary: 'List accounts (admin)', auth: 'admin', query: S.AccountListQuery, responses: { 200: json('accounts', S.AccountPage), 400: bad, 401: unauthenticated, 403: adminOnly } },
  deleteAccount: { method: 'delete', path: '/api/v1/console/accounts/{id}', summary: 'Delete an account (admin)', auth: 'admin', responses: { 204: empty('deleted'), 401: unauthenticated, 403: error('admin only, or an admin account'), 404: notFound } },
  setAccountLimits: { method: 'put', path: '/api/v1/console/accounts/{id}/limits', summary: 'Override an account\'s limits (admin); null restores a default', auth: 'admin', body: S.LimitsBody, responses: { 200: json('the account\'s limits', S.AccountLimitsView), 400: bad, 401: unauthenticated, 403: adminOnly, 404: notFound } },
  accountLimits: { method: 'get', path: '/api/v1/console/limits', summary: 'The logged-in account\'s limits and what it holds now', auth: 'login', responses: { 200: json('limits and usage', S.AccountLimitsView), 401: unauthenticated } },
  codecDecode: { method: 'post', path: '/api/v1/codec/decode', summary: 'Temporal UI codec endpoint: opens sealed payloads of workflow histories (admin, login cookie; CORS for DURABOX_TEMPORAL_UI_URL)', auth: 'admin', body: S.CodecPayloads, responses: { 200: json('the payloads, opened', S.CodecPayloads), 400: bad, 401: unauthenticated, 403: adminOnly } },
  consoleTasks: { method: 'get', path: '/api/v1/console/tasks', summary: 'The account\'s tasks, for the dashboard (login cookie)', auth: 'login', query: S.TaskListQuery, responses: { 200: json('tasks', S.TaskPage), 400: bad, 401: unauthenticated } },
  consoleSessions: { method: 'get', path: '/api/v1/console/sessions', summary: 'The account\'s sessions, for the dashboard (login cookie)', auth: 'login', query: S.SessionListQuery, responses: { 200: json('sessions', S.SessionPage), 400: bad, 401: unauthenticated } },
  consoleTemplates: { method: 'get', path: '/api/v1/console/templates', summary: 'The built-in templates and the account\'s own, with each host\'s build, for the dashboard (login cookie)', auth: 'login', responses: { 200: json('templates', T.TemplateList), 401: unauthenticated } },
  consoleGetTemplate: { method: 'get', path: '/api/v1/console/templates/{name}', summary: 'A template, with each host\'s build status and the end of its log, for the dashboard (login cookie)', auth: 'login', responses: { 200: json('template', T.TemplateView), 401: unauthenticated, 404: error('template_not_found') } },
  consoleCreateTemplate: { method: 'post', path: '/api/v1/console/templates', summary: 'Create a template from the dashboard (login cookie), as POST /templates', auth: 'login', body: T.TemplateCreateBody, responses: { 201: json('created, building', T.TemplateView), 400: bad, 401: unauthenticated, 403: error('dockerfile given by an account that is not an admin'), 409: error('the account has a template of that name'), 429: json('quota_exceeded: the account holds max_templates templates', S.QuotaErrorBody) } },
  consoleDeleteTemplate: { method: 'delete', path: '/api/v1/console/templates/{name}', summary: 'Delete a template from the dashboard (login cookie), as DELETE /templates/{name}', auth: 'login', responses: { 204: empty('deleted'), 401: unauthenticated, 403: error('a built-in template'), 404: error('template_not_found') } },
  listTokens: { method: 'get', path: '/api/v1/console/tokens', summary: 'List the account\'s access tokens, masked', auth: 'login', responses: { 200: json('tokens', S.TokenList), 401: unauthenticated } },
  createToken: { method: 'post', path: '/api/v1/console/tokens', summary: 'Create an access token; its value is shown only here', auth: 'login', body: S.TokenCreateBody, responses: { 201: json('created', S.TokenCreated), 400: bad, 401: unauthenticated, 409: error('name or value taken'), 429: json('quota_exceeded: the account holds max_tokens tokens', S.QuotaErrorBody) } },
  deleteToken: { method: 'delete', path: '/api/v1/console/tokens/{id}', summary: 'Delete an access token', auth: 'login', responses: { 204: empty('deleted'), 401: unauthenticated, 404: notFound } },
  tokenValue: { method: 'get', path: '/api/v1/console/tokens/{id}/value', summary: 'Always 410: token values are shown once', auth: 'login', responses: { 401: unauthenticated, 410: error('gone') } },

  listWorkers: { method: 'get', path: '/api/v1/workers', summary: 'List workers (admin)', auth: 'admin', query: S.WorkerListQuery, responses: { 200: json('workers', S.WorkerPage), 400: bad, 401: unauthenticated, 403: adminOnly } },
  workerStats: { method: 'get', path: '/api/v1/workers/stats', summary: 'Worker counts (admin)', auth: 'admin', query: S.WorkerStatsQuery, responses: { 200: json('stats', S.WorkerStatsBody), 400: bad, 401: unauthenticated, 403: adminOnly } },
  workerInflight: { method: 'get', path: '/api/v1/workers/inflight', summary: 'In-flight executions per worker (admin)', auth: 'admin', responses: { 200: json('inflight', S.WorkerInflightBody), 401: unauthenticated, 403: adminOnly } },
  createWorker: { method: 'post', path: '/api/v1/workers', summary: 'Create a worker credential; the start command with its secret is shown only here', auth: 'admin', body: S.WorkerCreateBody, responses: { 201: json('created', S.WorkerCreated), 400: bad, 401: unauthenticated, 403: adminOnly } },
  deleteWorker: { method: 'delete', path: '/api/v1/workers/{node_id}', summary: 'Delete a worker credential; that worker stops taking work', auth: 'admin', responses: { 204: empty('deleted'), 401: unauthenticated, 403: adminOnly, 404: notFound } },
  workerStartupCommand: { method: 'get', path: '/api/v1/workers/{node_id}/startup-command', summary: 'Always 410: the secret is shown once', auth: 'admin', responses: { 401: unauthenticated, 403: adminOnly, 410: error('gone') } },
  registryHeartbeat: { method: 'post', path: '/api/v1/registry/heartbeat', summary: 'A runtime worker reports itself (worker credential)', auth: 'worker', body: S.WorkerReportBody, responses: { 200: json('accepted', S.RegistryAck), 400: bad, 401: error('unknown or deleted credential') } },
  registryOutput: { method: 'post', path: '/api/v1/registry/output', summary: 'A runtime worker forwards output of running work, for streams (worker credential)', auth: 'worker', body: S.OutputPostBody, responses: { 204: empty('stored and announced'), 400: bad, 401: error('unknown or deleted credential'), 403: error('a stream grant missing, expired, or for other work or another host') } },
  registrySessions: { method: 'get', path: '/api/v1/registry/sessions', summary: 'The containers of the sessions still running on the calling host (worker credential)', auth: 'worker', responses: { 200: json('live sessions', S.RegistrySessions), 401: error('unknown or deleted credential') } },
  registryPutSnapshot: { method: 'put', path: '/api/v1/registry/snapshots', summary: 'A host stores a part of a session\'s workspace checkpoint, a gzipped tar (worker credential): a delta joins the chain, a full one replaces it', auth: 'worker', query: S.SnapshotPutQuery, rawBody: true, responses: { 201: json('stored', S.SnapshotStored), 400: bad, 401: error('unknown or deleted credential'), 403: error('the grant (X-Durabox-Grant) missing, expired, or for another session or host'), 409: error('fenced: the session has moved to a newer container since the grant was given'), 413: error('larger than DURABOX_SESSION_CHECKPOINT_MAX_BYTES') } },
  registryClaimSnapshot: { method: 'post', path: '/api/v1/registry/snapshots/claim', summary: 'A host restoring a session claims its checkpoint chain for the new container (worker credential): from then on no older container of the session may write to it', auth: 'worker', query: S.SnapshotQuery, responses: { 200: json('the chain', S.SnapshotChain), 400: bad, 401: error('unknown or deleted credential'), 403: error('the grant (X-Durabox-Grant) missing, expired, or for another session or host'), 409: error('fenced: a newer container has claimed the chain') } },
  registryGetSnapshot: { method: 'get', path: '/api/v1/registry/snapshots', summary: 'A host reads a part of a session\'s checkpoint to restore it (worker credential)', auth: 'worker', query: S.SnapshotPartQuery, responses: { 200: { description: 'the gzipped tar; X-Snapshot-Digest names the sha256 of the uncompressed tar', contentType: 'application/gzip' }, 400: bad, 401: error('unknown or deleted credential'), 403: error('the grant (X-Durabox-Grant) missing, expired, or for another session or host'), 404: notFound } },
  registryTemplates: { method: 'get', path: '/api/v1/registry/templates', summary: 'The ready account templates of the runtimes the calling host serves: it builds the images it lacks before it serves (worker credential)', auth: 'worker', query: T.RegistryTemplatesQuery, responses: { 200: json('templates', T.RegistryTemplates), 400: bad, 401: error('unknown or deleted credential') } },
  registryTemplateBuilt: { method: 'post', path: '/api/v1/registry/templates/built', summary: 'A host reports its build of a template image, made outside a build workflow (worker credential)', auth: 'worker', body: T.RegistryTemplateBuilt, responses: { 204: empty('recorded'), 400: bad, 401: error('unknown or deleted credential') } },
  registryGoodbye: { method: 'post', path: '/api/v1/registry/goodbye', summary: 'A runtime worker going offline (worker credential)', auth: 'worker', responses: { 204: empty('recorded'), 401: error('unknown or deleted credential') } },

  createTask: { method: 'post', path: '/api/v1/tasks', summary: 'Start a task (a Temporal workflow); sync, async or auto', auth: 'token', body: S.TaskCreateBody, responses: taskAnswers },
  listTasks: { method: 'get', path: '/api/v1/tasks', summary: 'The account\'s tasks, newest first', auth: 'token', query: S.TaskListQuery, responses: { 200: json('tasks', S.TaskPage), 400: bad, 401: unauthenticated } },
  getTask: { method: 'get', path: '/api/v1/tasks/{id}', summary: 'A task', auth: 'token', responses: { 200: json('task', S.TaskBodySchema), 401: unauthenticated, 404: notFound } },
  taskEvents: { method: 'get', path: '/api/v1/tasks/{id}/events', summary: 'The task as Server-Sent Events: status, output as it is written (from the start), then the result', auth: 'token', responses: { 200: { description: 'event stream', contentType: 'text/event-stream', events: true }, 401: unauthenticated, 404: notFound } },
  cancelTask: { method: 'post', path: '/api/v1/tasks/{id}/cancel', summary: 'Cancel a task (its container is killed)', auth: 'token', responses: { 200: json('accepted', S.TaskBodySchema), 401: unauthenticated, 404: notFound, 409: json('already finished: the bare snapshot, as the reference answers', S.TaskBodySchema) } },
  echo: { method: 'post', path: '/api/v1/commands/echo', summary: 'Round trip through a worker', auth: 'token', body: S.EchoInput, responses: { 200: json('echo', S.EchoOutput), 400: bad, 401: unauthenticated, 429: error('no_capacity'), 502: error('execution failed'), 503: error('no_worker'), 504: error('timeout') } },
  terminalCommand: { method: 'post', path: '/api/v1/commands/terminal', summary: 'Run a command in a terminal session (a new one may start from_snapshot, or as a fork of a session: fork_from)', auth: 'token', body: S.TerminalCommandBody, responses: { 200: { ...json('output', S.TerminalExecOutput), events: true }, ...sessionFailures, 404: sessionError('session_not_found (also: fork_from names no live session of the account), or snapshot_not_found (from_snapshot names no snapshot of the account)'), 409: sessionError('session_busy; or conflict: fork_from names a session with no checkpoint yet, or the session id already has a checkpoint so it cannot start from a copy') } },
  runCode: { method: 'post', path: '/api/v1/commands/code', summary: 'Run a code cell: once in a fresh sandbox, or in a session\'s interpreter context', auth: 'token', body: S.RunCodeCommandBody, responses: { 200: { ...json('the cell\'s result (an exception in the code is a normal result)', S.RunCodeOutput), events: true }, ...sessionFailures, 404: { description: 'session_not_found or context_not_found; template_not_found', schema: z.union([S.SessionErrorBody, S.ErrorBody]) }, 409: { description: 'session_busy; template_not_ready', schema: z.union([S.SessionErrorBody, S.ErrorBody]) } } },
  createContext: { method: 'post', path: '/api/v1/sessions/{id}/contexts', summary: 'Create an interpreter context in a session', auth: 'token', body: S.ContextCreateBody, responses: { 201: json('created', S.ContextView), ...sessionFailures, 409: sessionError('session_busy, or the session holds its most contexts') } },
  listContexts: { method: 'get', path: '/api/v1/sessions/{id}/contexts', summary: 'A session\'s interpreter contexts', auth: 'token', responses: { 200: json('contexts', S.ContextList), 401: unauthenticated, 404: sessionError('session_not_found') } },
  deleteContext: { method: 'delete', path: '/api/v1/sessions/{id}/contexts/{context_id}', summary: 'End an interpreter context (its variables are gone)', auth: 'token', responses: { 204: empty('deleted'), ...sessionFailures, 404: sessionError('session_not_found or context_not_found') } },
  listTemplates: { method: 'get', path: '/api/v1/templates', summary: 'The built-in templates and the account\'s own, with each host\'s build', auth: 'token', responses: { 200: json('templates', T.TemplateList), 401: unauthenticated } },
  getTemplate: { method: 'get', path: '/api/v1/templates/{name}', summary: 'A template, with each host\'s build status and the end of its log', auth: 'token', responses: { 200: json('template', T.TemplateView), 401: unauthenticated, 404: error('template_not_found') } },
  createTemplate: { method: 'post', path: '/api/v1/templates', summary: 'Create a template: a build workflow builds it on every online host serving its base (building, then ready or failed)', auth: 'token', body: T.TemplateCreateBody, responses: { 201: json('created, building', T.TemplateView), 400: bad, 401: unauthenticated, 403: error('dockerfile given by an account that is not an admin'), 409: error('the account has a template of that name'), 429: json('quota_exceeded: the account holds max_templates templates', S.QuotaErrorBody) } },
  deleteTemplate: { method: 'delete', path: '/api/v1/templates/{name}', summary: 'Delete a template; work already running on it ends as it would have', auth: 'token', responses: { 204: empty('deleted'), 401: unauthenticated, 403: error('a built-in template'), 404: error('template_not_found') } },
  listSessions: { method: 'get', path: '/api/v1/sessions', summary: 'The account\'s sessions', auth: 'token', query: S.SessionListQuery, responses: { 200: json('sessions', S.SessionPage), 400: bad, 401: unauthenticated } },
  getSession: { method: 'get', path: '/api/v1/sessions/{id}', summary: 'A session', auth: 'token', responses: { 200: json('session', S.SessionSummarySchema), 401: unauthenticated, 404: error('session_not_found') } },
  deleteSession: { method: 'delete', path: '/api/v1/sessions/{id}', summary: 'End a session and remove its container', auth: 'token', responses: { 204: empty('ended'), ...sessionFailures } },
  pauseSession: { method: 'post', path: '/api/v1/sessions/{id}/pause', summary: 'Pause the session now, as an idle one pauses by itself: /workspace is checkpointed and the container removed (running processes end); its next call, or resume, brings it back on any host. A command or file call running at the time keeps the container: the answer then says busy (or active) and nothing is paused', auth: 'token', responses: { 200: json('the session as it now is (paused, or busy/active when a step kept it live)', S.SessionSummarySchema), ...sessionFailures, 409: sessionError('conflict: checkpoints are off (DURABOX_SESSION_CHECKPOINT_SEC=0), so a session cannot pause') } },
  resumeSession: { method: 'post', path: '/api/v1/sessions/{id}/resume', summary: 'Bring a paused session back into a container now (restored from its checkpoint, on any host) rather than with its next call; a live session is left as it is. Either way the lease is extended as by any call', auth: 'token', responses: { 200: json('the session as it now is', S.SessionSummarySchema), ...sessionFailures } },
  setSessionLease: { method: 'put', path: '/api/v1/sessions/{id}/lease', summary: 'Set the session\'s lease to end ttl_sec from now, sooner or later than it would have (a call afterwards extends it as usual); a session whose lease runs out ends', auth: 'token', body: S.SessionLeaseBody, responses: { 200: json('the session with its new lease_expires_unix_ms', S.SessionSummarySchema), ...sessionFailures, 400: error('invalid input: ttl_sec outside the configured lease bounds, or not an integer') } },
  forkSession: { method: 'post', path: '/api/v1/sessions/{id}/fork', summary: 'Start a new session (new id, same template) from the session\'s latest stored state, on any host; the session itself goes on untouched', auth: 'token', body: S.ForkBody, responses: { 201: json('the new session, started', S.ForkedSession), ...sessionFailures, 409: sessionError('conflict: the session has no checkpoint yet (DURABOX_SESSION_DURABILITY=interval)') } },
  createSnapshot: { method: 'post', path: '/api/v1/sessions/{id}/snapshots', summary: 'Keep the session\'s latest stored state as a named snapshot of the account; it outlives the session', auth: 'token', body: S.SnapshotCreateBody, responses: { 201: json('kept', S.SnapshotView), 400: bad, 401: unauthenticated, 404: error('session_not_found'), 409: error('the account already has a snapshot of that name, or the session has no checkpoint yet'), 429: json('quota_exceeded: max_snapshots or max_snapshot_mb', S.QuotaErrorBody) } },
  listSnapshots: { method: 'get', path: '/api/v1/snapshots', summary: 'The account\'s named snapshots, newest first', auth: 'token', responses: { 200: json('snapshots', S.SnapshotList), 401: unauthenticated } },
  getSnapshot: { method: 'get', path: '/api/v1/snapshots/{name}', summary: 'A named snapshot', auth: 'token', responses: { 200: json('snapshot', S.SnapshotView), 401: unauthenticated, 404: error('snapshot_not_found') } },
  deleteSnapshot: { method: 'delete', path: '/api/v1/snapshots/{name}', summary: 'Delete a named snapshot (sessions started from it keep their own copy)', auth: 'token', responses: { 204: empty('deleted'), 401: unauthenticated, 404: error('snapshot_not_found') } },
  readSessionFile: { method: 'get', path: '/api/v1/sessions/{id}/files', summary: 'Download a file, or list a directory', auth: 'token', query: S.FilePathQuery, responses: { 200: { description: 'the file\'s bytes (its MIME type), or {path, entries} for a directory', schema: S.FileListing, contentType: 'application/octet-stream' }, ...fileFailures } },
  writeSessionFile: { method: 'put', path: '/api/v1/sessions/{id}/files', summary: 'Upload a file (raw body)', auth: 'token', query: S.FilePathQuery, rawBody: true, responses: { 201: json('written', S.FileWritten), ...fileFailures } },
  deleteSessionFile: { method: 'delete', path: '/api/v1/sessions/{id}/files', summary: 'Delete a file or directory', auth: 'token', query: S.FilePathQuery, responses: { 204: empty('deleted'), ...fileFailures } },
  // The workbench's streams (docs/workbench/ports.md, docs/workbench/terminal.md). Requests to a port itself,
  // /api/v1/sessions/{id}/ports/{port}/…, pass through to the session's server (api/streams.ts).
  listSessionPorts: { method: 'get', path: '/api/v1/sessions/{id}/ports', summary: 'The ports something in the session listens on, and where each is served', auth: 'token', responses: { 200: json('ports', S.SessionPorts), ...sessionFailures, 503: sessionError('host_unreachable or no_worker') } },
  createSessionService: { method: 'post', path: '/api/v1/sessions/{id}/ports', summary: 'Register a service: a command that serves a port of the session. It is kept in /workspace/.durabox/services.json (so it travels with checkpoints, forks and snapshots) and started again by the first request to its port after a resume or a move', auth: 'token', body: S.ServiceCreateBody, responses: { 201: json('registered (and, with start, listening)', S.ServiceView), ...sessionFailures, 404: sessionError('session_not_found, or port_not_listening: the command did not listen on the port within a minute') } },
  createSessionLink: { method: 'post', path: '/api/v1/sessions/{id}/links', summary: 'A signed link that opens one port (or the terminal) of the session without a token, until it expires', auth: 'token', body: S.LinkCreateBody, responses: { 201: json('the link', S.LinkView), ...sessionFailures } },
  sessionPty: { method: 'get', path: '/api/v1/sessions/{id}/pty', summary: 'WebSocket (Upgrade: websocket): the session\'s interactive terminal, a real TTY. Query cols, rows (1-1000), name (several terminals). Binary messages are keystrokes and output; text messages are JSON {type: input|resize|signal}; {type: exit, code} when the shell ends', auth: 'token', responses: { 101: empty('switching to the WebSocket'), 400: error('not a WebSocket request, or bad cols/rows/name'), 401: unauthenticated, 404: sessionError('session_not_found') } },
  sessionBrowserCdp: { method: 'get', path: '/api/v1/sessions/{id}/browser/cdp', summary: 'WebSocket (Upgrade: websocket): the session\'s browser over the Chrome DevTools Protocol, for Playwright (chromium.connectOverCDP) or Puppeteer (connect({browserWSEndpoint})); the browser starts on first use', auth: 'token', responses: { 101: empty('switching to the WebSocket'), 400: error('not a WebSocket request'), 401: unauthenticated, 404: sessionError('session_not_found'), 409: sessionError('browser_unavailable: the session\'s template has no browser') } },

  // ---- dashboard session page: the session routes by login cookie (same services, same answers). Those
  // that change something also refuse an Origin other than the API's own (api/handlers/console-sessions.ts).
  consoleGetSession: { method: 'get', path: '/api/v1/console/sessions/{id}', summary: 'A session with its workflow, checkpoint chain and named snapshots, for the dashboard (login cookie)', auth: 'login', responses: { 200: json('session', S.ConsoleSessionView), 401: unauthenticated, 404: sessionError('session_not_found') } },
  consoleDeleteSession: { method: 'delete', path: '/api/v1/console/sessions/{id}', summary: 'End a session from the dashboard (login cookie), as DELETE /sessions/{id}', auth: 'login', responses: { 204: empty('ended'), ...sessionFailures, 403: crossOrigin } },
  consoleReadSessionFile: { method: 'get', path: '/api/v1/console/sessions/{id}/files', summary: 'Download a file, or list a directory, from the dashboard (login cookie)', auth: 'login', query: S.FilePathQuery, responses: { 200: { description: 'the file\'s bytes (its MIME type), or {path, entries} for a directory', schema: S.FileListing, contentType: 'application/octet-stream' }, ...fileFailures } },
  consoleWriteSessionFile: { method: 'put', path: '/api/v1/console/sessions/{id}/files', summary: 'Upload a file from the dashboard (login cookie, raw body)', auth: 'login', query: S.FilePathQuery, rawBody: true, responses: { 201: json('written', S.FileWritten), ...fileFailures, 403: crossOrigin } },
  consoleDeleteSessionFile: { method: 'delete', path: '/api/v1/console/sessions/{id}/files', summary: 'Delete a file or directory from the dashboard (login cookie)', auth: 'login', query: S.FilePathQuery, responses: { 204: empty('deleted'), ...fileFailures, 403: crossOrigin } },
  consoleForkSession: { method: 'post', path: '/api/v1/console/sessions/{id}/fork', summary: 'Fork a session from the dashboard (login cookie), as POST /sessions/{id}/fork with the default lease', auth: 'login', body: S.ConsoleForkBody, responses: { 201: json('the new session, started', S.ForkedSession), ...sessionFailures, 403: crossOrigin, 409: sessionError('conflict: the session has no checkpoint yet (DURABOX_SESSION_DURABILITY=interval)') } },
  consoleSessionPorts: { method: 'get', path: '/api/v1/console/sessions/{id}/ports', summary: 'The ports something in the session listens on, for the dashboard (login cookie), as GET /sessions/{id}/ports', auth: 'login', responses: { 200: json('ports', S.SessionPorts), ...sessionFailures, 503: sessionError('host_unreachable or no_worker') } },
  consoleCreateSnapshot: { method: 'post', path: '/api/v1/console/sessions/{id}/snapshots', summary: 'Keep a session\'s latest stored state as a named snapshot, from the dashboard (login cookie)', auth: 'login', body: S.SnapshotCreateBody, responses: { 201: json('kept', S.SnapshotView), 400: bad, 401: unauthenticated, 403: crossOrigin, 404: error('session_not_found'), 409: error('the account already has a snapshot of that name, or the session has no checkpoint yet'), 429: json('quota_exceeded: max_snapshots or max_snapshot_mb', S.QuotaErrorBody) } },

  // ---- Browser (workbench: the session's headless Chromium; the template browser or browser: true) ----
  browserInfo: { method: 'get', path: '/api/v1/sessions/{id}/browser', summary: 'The browser page\'s URL and title', auth: 'token', responses: { 200: json('the page', S.BrowserPageInfo), ...browserFailures } },
  browserNavigate: browserPost('navigate', 'Load a URL in the session\'s browser page', S.BrowserNavigateBody, json('loaded', S.BrowserNavigated)),
  browserScreenshot: browserPost('screenshot', 'A PNG of the page (viewport, full page or one element)', S.BrowserScreenshotBody, { description: 'the PNG', contentType: 'image/png' }),
  browserClick: browserPost('click', 'Click an element', S.BrowserClickBody, json('clicked', S.BrowserActed)),
  browserType: browserPost('type', 'Fill a field with text (optionally press Enter)', S.BrowserTypeBody, json('typed', S.BrowserActed)),
  browserEvaluate: browserPost('evaluate', 'Run a JavaScript expression in the page', S.BrowserEvaluateBody, json('its value as JSON', S.BrowserEvaluated)),
  browserHtml: browserPost('html', 'The page\'s (or one element\'s) HTML', S.BrowserHtmlBody, json('the HTML', S.BrowserHtml)),
  browserWait: browserPost('wait', 'Wait for an element to be visible, attached or hidden', S.BrowserWaitBody, json('reached', S.BrowserWaited)),
  browserPdf: browserPost('pdf', 'The page printed to PDF', S.BrowserPdfBody, { description: 'the PDF', contentType: 'application/pdf' }),

  // File tools (docs/workbench/file-tools.md).
  globSessionFiles: { method: 'get', path: '/api/v1/sessions/{id}/files/glob', summary: 'Paths under a directory matching a glob, sorted (capped by limit)', auth: 'token', query: S.FileGlobQuery, responses: { 200: json('matching paths', S.FileGlobResult), ...fileTools } },
  grepSessionFiles: { method: 'get', path: '/api/v1/sessions/{id}/files/grep', summary: 'Lines matching a regular expression in a file or a directory tree, binary files skipped (capped by limit)', auth: 'token', query: S.FileGrepQuery, responses: { 200: json('matching lines', S.FileGrepResult), ...fileTools } },
  editSessionFile: { method: 'post', path: '/api/v1/sessions/{id}/files/edit', summary: 'Replace exact text in a file: once (it must be unique) or everywhere with replace_all', auth: 'token', body: S.FileEditBody, responses: { 200: json('edited', S.FileEdited), ...fileTools, 409: sessionError('session_busy, or conflict: the file changed during the edit'), 422: sessionError('edit_no_match: old_text is not in the file; edit_ambiguous: it is there more than once (the message says how many times) and replace_all is false') } },
  moveSessionFile: { method: 'post', path: '/api/v1/sessions/{id}/files/move', summary: 'Move or rename a file or directory', auth: 'token', body: S.FileMoveBody, responses: { 200: json('moved', S.FileMoved), ...fileTools } },
  copySessionFile: { method: 'post', path: '/api/v1/sessions/{id}/files/copy', summary: 'Copy a file, or a directory with recursive', auth: 'token', body: S.FileCopyBody, responses: { 200: json('copied', S.FileCopied), ...fileTools } },
  makeSessionDirectory: { method: 'post', path: '/api/v1/sessions/{id}/files/mkdir', summary: 'Create a directory (with parents: its missing parents too, and an existing one is fine)', auth: 'token', body: S.FileMkdirBody, responses: { 200: json('created, or (parents) already there', S.DirectoryMade), ...fileTools } },
} as const satisfies Record<string, Operation>;

export type OperationId = keyof typeof OPERATIONS;

const unsupportedType = error('the body is not application/json');

/** An operation's answers: its record's, and for a JSON body, 415 to a body in another format. */
export function responsesOf(op: Operation): Record<number, Response> {
  return op.body ? { ...op.responses, 415: unsupportedType } : op.responses;
}

const SECURITY: Record<Auth, unknown[]> = {
  none: [],
  token: [{ bearer: [] }],
  login: [{ cookie: [] }],
  admin: [{ cookie: [] }],
  worker: [{ workerCredential: [] }],
};

const EVENTS_DESCRIPTION = 'Server-Sent Events: `stdout` and `stderr` events ({text}, id = chunk number) as the work writes them, then one `result` event (the answer as JSON) or `error` event ({status, body}), then the end. Task streams start with a `status` event.';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): unknown {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
}

function responseContent(r: Response): Record<string, unknown> | undefined {
  const content: Record<string, unknown> = {};
  if (r.schema) content['application/json'] = { schema: jsonSchema(r.schema, 'output') };
  if (r.contentType && r.contentType !== 'application/json') content[r.contentType] = { schema: { type: 'string', format: 'binary' } };
  if (r.contentType === 'application/json' && !r.schema) content['application/json'] = { schema: {} };
  if (r.events) content['text/event-stream'] = { schema: { type: 'string', description: EVENTS_DESCRIPTION } };
  return Object.keys(content).length ? content : undefined;
}

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, op] of Object.entries(OPERATIONS) as Array<[string, Operation]>) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (op.query) {
      const shape = op.query.shape as Record<string, z.ZodType>;
      for (const [name, s] of Object.entries(shape)) params.push({ name, in: 'query', required: !s.safeParse(undefined).success, schema: jsonSchema(s, 'input') as { type: string } });
    }
    (paths[op.path] ??= {})[op.method] = {
      operationId: id,
      summary: op.summary,
      security: SECURITY[op.auth],
      ...(params.length ? { parameters: params } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } } } : {}),
      ...(op.rawBody ? { requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } } : {}),
      responses: Object.fromEntries(Object.entries(responsesOf(op)).map(([code, r]) => {
        const content = responseContent(r);
        return [code, { description: r.description, ...(content ? { content } : {}) }];
      })),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'durabox REST API', version, description: 'Errors answer {"error": "<message>"}. A task is a Temporal workflow; its id is the workflow id.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'access token from the dashboard' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'durabox_session' },
        workerCredential: { type: 'http', scheme: 'bearer', description: 'a runtime worker\'s id and secret' },
      },
    },
    paths,
  };
}
