// The OpenAPI document of the REST API, built from the same zod schemas that validate requests.
// A test compares it with the routes the app really serves, so it cannot drift.
import { z } from 'zod';
import * as S from './schemas.js';

type Auth = 'none' | 'token' | 'login' | 'admin' | 'worker';

interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  rawBody?: true;
  query?: z.ZodObject;
  responses: Record<number, string>;
}

const err = { 400: 'invalid input: the message names the field', 401: 'not authenticated' };

export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'The process is up', auth: 'none', responses: { 200: 'ok' } },
  { method: 'get', path: '/readyz', summary: 'Temporal and the database are reachable', auth: 'none', responses: { 200: 'ready', 503: 'not ready' } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', auth: 'none', responses: { 200: 'text exposition format' } },
  { method: 'get', path: '/api/v1/openapi.json', summary: 'This document', auth: 'none', responses: { 200: 'OpenAPI 3.1' } },
  { method: 'post', path: '/mcp', summary: 'MCP, Streamable HTTP, stateless, JSON responses', auth: 'token', responses: { 200: 'JSON-RPC response', 401: 'not authenticated', 406: 'Accept must allow application/json and text/event-stream' } },
  { method: 'get', path: '/mcp', summary: 'Not allowed: the MCP endpoint takes POST only', auth: 'none', responses: { 405: 'Allow: POST' } },
  { method: 'delete', path: '/mcp', summary: 'Not allowed: the MCP endpoint is stateless', auth: 'none', responses: { 405: 'Allow: POST' } },

  { method: 'post', path: '/api/v1/console/login', summary: 'Log in to the dashboard (sets the session cookie)', auth: 'none', body: S.LoginBody, responses: { 200: 'logged in', 400: err[400], 401: 'wrong credentials', 429: 'too many failed attempts' } },
  { method: 'get', path: '/api/v1/console/session', summary: 'The logged-in account', auth: 'login', responses: { 200: 'session', 401: err[401] } },
  { method: 'post', path: '/api/v1/console/logout', summary: 'Log out', auth: 'none', responses: { 204: 'logged out' } },
  { method: 'post', path: '/api/v1/console/register', summary: 'Create a non-admin account (admin, registration enabled)', auth: 'admin', body: S.RegisterBody, responses: { 201: 'created', 400: err[400], 403: 'disabled or not admin', 409: 'username taken' } },
  { method: 'get', path: '/api/v1/console/accounts', summary: 'List accounts (admin)', auth: 'admin', query: S.AccountListQuery, responses: { 200: 'accounts', 403: 'admin only' } },
  { method: 'delete', path: '/api/v1/console/accounts/{id}', summary: 'Delete an account (admin)', auth: 'admin', responses: { 204: 'deleted', 404: 'not found' } },
  { method: 'get', path: '/api/v1/console/tasks', summary: 'The account\'s tasks, for the dashboard (login cookie)', auth: 'login', query: S.TaskListQuery, responses: { 200: 'tasks', 401: err[401] } },
  { method: 'get', path: '/api/v1/console/sessions', summary: 'The account\'s sessions, for the dashboard (login cookie)', auth: 'login', query: S.SessionListQuery, responses: { 200: 'sessions', 401: err[401] } },
  { method: 'get', path: '/api/v1/console/tokens', summary: 'List the account\'s access tokens, masked', auth: 'login', responses: { 200: 'tokens' } },
  { method: 'post', path: '/api/v1/console/tokens', summary: 'Create an access token; its value is shown only here', auth: 'login', body: S.TokenCreateBody, responses: { 201: 'created', 400: err[400], 409: 'name or value taken' } },
  { method: 'delete', path: '/api/v1/console/tokens/{id}', summary: 'Delete an access token', auth: 'login', responses: { 204: 'deleted', 404: 'not found' } },
  { method: 'get', path: '/api/v1/console/tokens/{id}/value', summary: 'Always 410: token values are shown once', auth: 'login', responses: { 410: 'gone' } },

  { method: 'get', path: '/api/v1/workers', summary: 'List workers (admin)', auth: 'admin', query: S.WorkerListQuery, responses: { 200: 'workers' } },
  { method: 'get', path: '/api/v1/workers/stats', summary: 'Worker counts (admin)', auth: 'admin', query: S.WorkerStatsQuery, responses: { 200: 'stats' } },
  { method: 'get', path: '/api/v1/workers/inflight', summary: 'In-flight executions per worker (admin)', auth: 'admin', responses: { 200: 'inflight' } },
  { method: 'post', path: '/api/v1/workers', summary: 'Create a worker credential; the start command with its secret is shown only here', auth: 'admin', body: S.WorkerCreateBody, responses: { 201: 'created' } },
  { method: 'delete', path: '/api/v1/workers/{node_id}', summary: 'Delete a worker credential; that worker stops taking work', auth: 'admin', responses: { 204: 'deleted', 404: 'not found' } },
  { method: 'get', path: '/api/v1/workers/{node_id}/startup-command', summary: 'Always 410: the secret is shown once', auth: 'admin', responses: { 410: 'gone' } },
  { method: 'post', path: '/api/v1/registry/heartbeat', summary: 'A runtime worker reports itself (worker credential)', auth: 'worker', body: S.WorkerReportBody, responses: { 200: 'accepted', 401: 'unknown or deleted credential' } },
  { method: 'post', path: '/api/v1/registry/goodbye', summary: 'A runtime worker going offline (worker credential)', auth: 'worker', responses: { 204: 'recorded', 401: 'unknown or deleted credential' } },

  { method: 'post', path: '/api/v1/tasks', summary: 'Start a task (a Temporal workflow); sync, async or auto', auth: 'token', body: S.TaskCreateBody, responses: { 200: 'succeeded', 202: 'still running', 400: err[400], 409: 'canceled', 429: 'no_capacity', 502: 'failed', 503: 'no_worker', 504: 'timeout' } },
  { method: 'get', path: '/api/v1/tasks', summary: 'The account\'s tasks, newest first', auth: 'token', query: S.TaskListQuery, responses: { 200: 'tasks' } },
  { method: 'get', path: '/api/v1/tasks/{id}', summary: 'A task', auth: 'token', responses: { 200: 'task', 404: 'not found' } },
  { method: 'post', path: '/api/v1/tasks/{id}/cancel', summary: 'Cancel a task (its container is killed)', auth: 'token', responses: { 200: 'accepted', 404: 'not found', 409: 'already finished' } },
  { method: 'post', path: '/api/v1/commands/echo', summary: 'Round trip through a worker', auth: 'token', body: S.EchoInput, responses: { 200: 'echo', 400: err[400], 503: 'no_worker', 504: 'timeout' } },
  { method: 'post', path: '/api/v1/commands/terminal', summary: 'Run a command in a terminal session', auth: 'token', body: S.TerminalCommandBody, responses: { 200: 'output', 400: err[400], 404: 'session_not_found', 409: 'session_busy', 429: 'no_capacity', 502: 'session_lost or failure', 503: 'no_worker', 504: 'timeout (command killed, session kept)' } },
  { method: 'get', path: '/api/v1/sessions', summary: 'The account\'s sessions', auth: 'token', query: S.SessionListQuery, responses: { 200: 'sessions' } },
  { method: 'get', path: '/api/v1/sessions/{id}', summary: 'A session', auth: 'token', responses: { 200: 'session', 404: 'session_not_found' } },
  { method: 'delete', path: '/api/v1/sessions/{id}', summary: 'End a session and remove its container', auth: 'token', responses: { 204: 'ended', 404: 'session_not_found' } },
  { method: 'get', path: '/api/v1/sessions/{id}/files', summary: 'Download a file, or list a directory', auth: 'token', query: S.FilePathQuery, responses: { 200: 'file bytes or {path, entries}', 400: 'path outside the session', 404: 'not found', 413: 'file too large' } },
  { method: 'put', path: '/api/v1/sessions/{id}/files', summary: 'Upload a file (raw body)', auth: 'token', query: S.FilePathQuery, rawBody: true, responses: { 201: 'written', 400: 'path outside the session', 404: 'session_not_found', 413: 'file too large' } },
  { method: 'delete', path: '/api/v1/sessions/{id}/files', summary: 'Delete a file or directory', auth: 'token', query: S.FilePathQuery, responses: { 204: 'deleted', 400: 'path outside the session', 404: 'not found' } },
];

const SECURITY: Record<Auth, unknown[] | undefined> = {
  none: [],
  token: [{ bearer: [] }],
  login: [{ cookie: [] }],
  admin: [{ cookie: [] }],
  worker: [{ workerCredential: [] }],
};

function jsonSchema(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
}

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const params = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (op.query) {
      const shape = op.query.shape as Record<string, z.ZodType>;
      for (const [name, s] of Object.entries(shape)) params.push({ name, in: 'query', required: !s.safeParse(undefined).success, schema: jsonSchema(s) as { type: string } });
    }
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      security: SECURITY[op.auth],
      ...(params.length ? { parameters: params } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      ...(op.rawBody ? { requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } } : {}),
      responses: Object.fromEntries(Object.entries(op.responses).map(([code, description]) => [code, { description }])),
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
