// A small client for the REST API as a user would call it.
import { platform } from './hooks.js';
import { ADMIN } from '../../../harness/platform.js';

export interface Res<T = any> { status: number; body: T; headers: Headers }

export async function call<T = any>(method: string, path: string, opts: { token?: string; cookie?: string; body?: unknown; raw?: string; headers?: Record<string, string>; /** Another API process of the platform (default: the in-process one). */ base?: string } = {}): Promise<Res<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  let body: string | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
  }
  if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const r = await fetch(`${opts.base ?? platform.url}${path}`, { method, headers, body });
  const text = await r.text();
  let parsed: unknown = text;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  return { status: r.status, body: parsed as T, headers: r.headers };
}

export async function login(username = ADMIN.username, password = ADMIN.password): Promise<string> {
  const r = await fetch(`${platform.url}/api/v1/console/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  if (r.status !== 200) throw new Error(`login failed: ${r.status}`);
  const cookie = r.headers.get('set-cookie')!;
  return cookie.split(';')[0];
}

let counter = 0;
export async function newToken(cookie?: string): Promise<string> {
  const c = cookie ?? (await login());
  const r = await call('POST', '/api/v1/console/tokens', { cookie: c, body: { name: `t-${process.pid}-${++counter}` } });
  if (r.status !== 201) throw new Error(`token create failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

/** A start command from POST /workers: its `K=V \` lines, then the program that runs the worker. */
export function startCommandOf(command: string): { env: Record<string, string>; program: string } {
  const lines = command.split(' \\\n');
  const env = Object.fromEntries(lines.slice(0, -1).map((l) => {
    const i = l.indexOf('=');
    return [l.slice(0, i), l.slice(i + 1).replace(/^'(.*)'$/, '$1')];
  }));
  return { env, program: lines.at(-1)! };
}
