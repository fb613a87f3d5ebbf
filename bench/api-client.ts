// The REST API as a bench client sees it: the typed client (client/) with an access token, a time limit
// on every call. Its checks want the status as well as the body, so it reads answers whatever their status.
import { DuraboxApiError, DuraboxClient, type Input, type OperationId, type Output } from '../client/index.js';
import type { TerminalExecOutput } from '../contract/messages.js';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
}

export class ApiError extends Error {}

export class DuraboxApi {
  private readonly client: DuraboxClient;

  /** The token and time limit are readable so the throughput clients' own process can call as this one does. */
  constructor(readonly baseUrl: string, readonly token: string, readonly timeoutMs: number) {
    this.client = new DuraboxClient({ baseUrl, token, timeoutMs });
  }

  /** Logs in as a dashboard user and creates an access token for the bench. */
  static async connect(baseUrl: string, creds: { username: string; password: string }, timeoutMs: number): Promise<DuraboxApi> {
    const login = await new DuraboxClient({ baseUrl, timeoutMs }).send('login', { body: creds });
    if (login.status !== 200) throw new ApiError(`login answered ${login.status}: ${await login.text()}`);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    try {
      const created = await new DuraboxClient({ baseUrl, cookie, timeoutMs }).createToken({ body: { name: `bench-${process.pid}-${Date.now()}` } });
      return new DuraboxApi(baseUrl, created.token, timeoutMs);
    } catch (e) {
      if (e instanceof DuraboxApiError) throw new ApiError(`token create answered ${e.status}: ${JSON.stringify(e.body)}`);
      throw e;
    }
  }

  /** An operation's answer whatever its status: its JSON (or text, when it is not JSON). */
  async call<K extends OperationId>(id: K, input: Input<K>): Promise<ApiResponse<Output<K> | any>> {
    const res = await this.client.send(id, input);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error message
    }
    return { status: res.status, body: parsed };
  }

  /** `POST /tasks` pythonExec in sync mode; throws unless it succeeded with the expected output, else answers the task id. */
  async pythonExec(code: string, expectedOutput: string): Promise<string> {
    const r = await this.call('createTask', { body: { capability: 'pythonExec', input: { code }, mode: 'sync' } });
    if (r.status !== 200 || r.body?.status !== 'succeeded') throw new ApiError(`pythonExec answered ${r.status}: ${brief(r.body)}`);
    if (r.body.result?.output !== expectedOutput) throw new ApiError(`pythonExec printed ${JSON.stringify(r.body.result?.output)}, expected ${JSON.stringify(expectedOutput)}`);
    return r.body.task_id as string;
  }

  /** `POST /commands/terminal`; throws on anything but 200 with exit code 0. */
  async terminal(req: TerminalRequest): Promise<TerminalResult> {
    const r = await this.call('terminalCommand', { body: req });
    if (r.status !== 200) throw new ApiError(`POST /commands/terminal answered ${r.status}: ${brief(r.body)}`);
    if (r.body.exit_code !== 0) throw new ApiError(`terminal command exited ${r.body.exit_code}: ${brief(r.body)}`);
    return r.body;
  }

  /** `POST /commands/code`; throws unless the cell's main result reads `expected`. */
  async runCode(req: { code: string; session_id?: string; language?: string }, expected: string): Promise<void> {
    const r = await this.call('runCode', { body: req });
    const main = (r.body?.results as Array<{ is_main_result: boolean; text?: string }> | undefined)?.find((x) => x.is_main_result);
    if (r.status !== 200 || main?.text !== expected) throw new ApiError(`runCode answered ${r.status}: ${brief(r.body)}`);
  }

  /**
   * A pythonExec task as Server-Sent Events; the code prints the time it printed at (ms since the epoch),
   * and this answers how long after that the chunk reached this client.
   */
  async firstChunkDelay(): Promise<number> {
    const code = 'import time\nprint(repr(time.time() * 1000), flush=True)\ntime.sleep(0.3)';
    const res = await this.client.send('createTask', { body: { capability: 'pythonExec', input: { code } } }, { headers: { accept: 'text/event-stream' } });
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
    const r = await this.call('getSession', { id: sessionId });
    if (r.status !== 200) throw new ApiError(`GET /sessions/${sessionId} answered ${r.status}: ${brief(r.body)}`);
    return r.body.status;
  }

  /** `POST /sessions/:id/fork`: answers the new session's id once it has its container. */
  async fork(sessionId: string): Promise<string> {
    const r = await this.call('forkSession', { id: sessionId });
    if (r.status !== 201 || r.body?.forked_from !== sessionId) throw new ApiError(`POST /sessions/${sessionId}/fork answered ${r.status}: ${brief(r.body)}`);
    return r.body.session_id;
  }

  async deleteSession(sessionId: string): Promise<void> {
    const r = await this.call('deleteSession', { id: sessionId });
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
