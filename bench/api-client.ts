// The REST API as a bench client sees it: an access token, JSON in and out, a time limit on every call.
import type { TerminalExecOutput } from '../contract/messages.js';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export class ApiError extends Error {}

export class DuraboxApi {
  /** The token and time limit are readable so the throughput clients' own process can call as this one does. */
  constructor(readonly baseUrl: string, readonly token: string, readonly timeoutMs: number) {}

  /** Logs in as a dashboard user and creates an access token for the bench. */
  static async connect(baseUrl: string, creds: { username: string; password: string }, timeoutMs: number): Promise<DuraboxApi> {
    const login = await fetch(`${baseUrl}/api/v1/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(creds),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (login.status !== 200) throw new ApiError(`login answered ${login.status}: ${await login.text()}`);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const tokenRes = await fetch(`${baseUrl}/api/v1/console/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ name: `bench-${process.pid}-${Date.now()}` }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await tokenRes.json()) as { token?: string };
    if (tokenRes.status !== 201 || !body.token) throw new ApiError(`token create answered ${tokenRes.status}: ${JSON.stringify(body)}`);
    return new DuraboxApi(baseUrl, body.token, timeoutMs);
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error message
    }
    return { status: res.status, body: parsed as T };
  }

  /** `POST /tasks` pythonExec in sync mode; throws unless it succeeded with the expected output, else answers the task id. */
  async pythonExec(code: string, expectedOutput: string): Promise<string> {
    const r = await this.call('POST', '/api/v1/tasks', { capability: 'pythonExec', input: { code }, mode: 'sync' });
    if (r.status !== 200 || r.body?.status !== 'succeeded') throw new ApiError(`pythonExec answered ${r.status}: ${brief(r.body)}`);
    if (r.body.result?.output !== expectedOutput) throw new ApiError(`pythonExec printed ${JSON.stringify(r.body.result?.output)}, expected ${JSON.stringify(expectedOutput)}`);
    return r.body.task_id as string;
  }

  /** `POST /commands/terminal`; throws on anything but 200 with exit code 0. */
  async terminal(req: TerminalRequest): Promise<TerminalResult> {
    const r = await this.call<TerminalResult>('POST', '/api/v1/commands/terminal', req);
    if (r.status !== 200) throw new ApiError(`POST /commands/terminal answered ${r.status}: ${brief(r.body)}`);
    if (r.body.exit_code !== 0) throw new ApiError(`terminal command exited ${r.body.exit_code}: ${brief(r.body)}`);
    return r.body;
  }

  /** `POST /commands/code`; throws unless the cell's main result reads `expected`. */
  async runCode(req: { code: string; session_id?: string; language?: string }, expected: string): Promise<void> {
    const r = await this.call('POST', '/api/v1/commands/code', req);
    const main = (r.body?.results as Array<{ is_main_result: boolean; text?: string }> | undefined)?.find((x) => x.is_main_result);
    if (r.status !== 200 || main?.text !== expected) throw new ApiError(`runCode answered ${r.status}: ${brief(r.body)}`);
  }

  /**
   * A pythonExec task as Server-Sent Events; the code prints the time it printed at (ms since the epoch),
   * and this answers how long after that the chunk reached this client.
   */
  async firstChunkDelay(): Promise<number> {
    const res = await fetch(`${this.baseUrl}/api/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ capability: 'pythonExec', input: { code: 'import time\nprint(repr(time.time() * 1000), flush=True)\ntime.sleep(0.3)' } }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.status !== 200) throw new ApiError(`POST /tasks (events) answered ${res.status}: ${await res.text()}`);
    const decoder = new TextDecoder();
    let buffer = '';
    let delay: number | undefined;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      const arrived = Date.now();
      buffer += decoder.decode(part, { stream: true });
      const m = /event: stdout\ndata: (.*)\n/.exec(buffer);
      if (m && delay === undefined) delay = arrived - Number(JSON.parse(JSON.parse(m[1]).text));
    }
    if (delay === undefined || !Number.isFinite(delay)) throw new ApiError(`no stdout event in ${brief(buffer)}`);
    return delay;
  }

  /** `GET /sessions/:id`'s status (active, paused, …). */
  async sessionStatus(sessionId: string): Promise<string> {
    const r = await this.call<{ status: string }>('GET', `/api/v1/sessions/${encodeURIComponent(sessionId)}`);
    if (r.status !== 200) throw new ApiError(`GET /sessions/${sessionId} answered ${r.status}: ${brief(r.body)}`);
    return r.body.status;
  }

  /** `POST /sessions/:id/fork`: answers the new session's id once it has its container. */
  async fork(sessionId: string): Promise<string> {
    const r = await this.call<{ session_id: string; forked_from: string }>('POST', `/api/v1/sessions/${encodeURIComponent(sessionId)}/fork`, {});
    if (r.status !== 201 || r.body?.forked_from !== sessionId) throw new ApiError(`POST /sessions/${sessionId}/fork answered ${r.status}: ${brief(r.body)}`);
    return r.body.session_id;
  }

  async deleteSession(sessionId: string): Promise<void> {
    const r = await this.call('DELETE', `/api/v1/sessions/${encodeURIComponent(sessionId)}`);
    if (r.status !== 204 && r.status !== 200) throw new ApiError(`DELETE /sessions/${sessionId} answered ${r.status}: ${brief(r.body)}`);
  }
}

export interface TerminalRequest {
  command: string;
  session_id?: string;
  create_if_missing?: boolean;
  /** A live session the new one forks (the call creates the fork and runs the command in it). */
  fork_from?: string;
  lease_ttl_sec?: number;
  timeout_ms?: number;
}

/** The terminalExec output, as the platform defines it. */
export type TerminalResult = TerminalExecOutput;

function brief(body: unknown): string {
  const s = typeof body === 'string' ? body : JSON.stringify(body);
  return s === undefined ? '(empty)' : s.length > 300 ? `${s.slice(0, 300)}…` : s;
}
