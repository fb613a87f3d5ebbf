// envd's processes on durabox. Every process runs detached in the sandbox's container (its own process
// group, stdout and stderr into files under /tmp/.e2b-proc/<pid>/, its exit code written when it ends),
// started by one short session command; its stream reads those files as they grow (file calls beside the
// session's command) and ends when the exit code is there. So several processes run at once, a background
// command keeps running after its stream ends, `connect` attaches to it again from any API process, and
// `kill` signals its group: it all lives in the container, which a worker's death does not take.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { DuraboxError } from '../../contract/errors.js';
import type { FileEntry, FileResult, TerminalExecInput } from '../../contract/messages.js';
import { E2bError, openConnectStream, parsed, unsupported } from './errors.js';
import { badEnvName, closeStdinCommand, commandLine, launcherCommand, PROC_DIR, processEvent, signalCommand, stdinCommand } from './protocol.js';
import type { Caller } from './envd.js';

/** The longest a process's stream stays open: durabox's command limit. */
const MAX_STREAM_MS = 24 * 3600_000;
/** With no deadline from the client, a stream stays open this long (the SDKs always send one). */
const DEFAULT_STREAM_MS = 60_000;
/** How often a stream looks for new output: soon after a change, less often while it is quiet. */
const POLL_MIN_MS = 250;
/** How long a process's start, signal or stdin waits for the session's command slot. */
const BUSY_WAIT_MS = 30_000;
/** The longest command line a process may have (its script goes into one session command). */
const MAX_SCRIPT_BYTES = 256 * 1024;
const POLL_MAX_MS = 1000;

export const ProcessConfig = z.object({
  cmd: z.string().min(1),
  args: z.array(z.string()).default([]),
  envs: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});
const StartRequest = z.object({ process: ProcessConfig, pty: z.unknown().optional(), tag: z.string().max(256).optional(), stdin: z.boolean().optional() });
const Selector = z.object({ pid: z.int().min(1).optional(), tag: z.string().optional() }).refine((s) => s.pid !== undefined || s.tag !== undefined, { message: 'give pid or tag' });
const ConnectRequest = z.object({ process: Selector });
const SignalRequest = z.object({ process: Selector, signal: z.union([z.string(), z.int()]) });
const InputRequest = z.object({ process: Selector, input: z.object({ stdin: z.base64().optional(), pty: z.string().optional() }) });
const CloseRequest = z.object({ process: Selector });

export function processApi(deps: AppDeps) {
  /**
   * A short session command (start, signal, stdin). The session runs one command or cell at a time: while
   * another holds it (a second process starting at the same moment, a cell), this one waits its turn.
   */
  const run = async (c: Caller, command: string) => {
    const input = { session_id: c.sandboxId, command, timeout_ms: 30_000, create_if_missing: false } as TerminalExecInput;
    const until = Date.now() + BUSY_WAIT_MS;
    for (let wait = 50; ; wait = Math.min(1000, wait * 2)) {
      try {
        return await deps.sessions.exec(c.accountId, input);
      } catch (e) {
        if (!(e instanceof DuraboxError && e.code === 'session_busy') || Date.now() + wait > until) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  const file = <K extends FileResult['op']>(c: Caller, op: Parameters<AppDeps['sessions']['file']>[2] & { op: K }) =>
    deps.sessions.file(c.accountId, c.sandboxId, op) as Promise<Extract<FileResult, { op: K }>>;

  /**
   * The sandbox's processes still running, from the container itself: the directories with no exit code yet
   * (by file calls, so a list never waits for the session's command slot).
   */
  const processes = async (c: Caller) => {
    const dirs = await file(c, { op: 'list', path: PROC_DIR }).catch((e: unknown) => {
      if (e instanceof DuraboxError && e.code === 'file_not_found') return undefined;
      throw e;
    });
    const out: Array<{ pid: number; tag?: string; config: z.output<typeof ProcessConfig> }> = [];
    if (dirs?.op !== 'list') return out;
    for (const d of dirs.entries) {
      if (d.type !== 'dir' || !/^\d+$/.test(d.name)) continue;
      const entries = await entriesOf(c, Number(d.name));
      if (!entries?.has('meta.json') || entries.has('exit')) continue;
      try {
        const meta = JSON.parse((await bytesOf(c, `${PROC_DIR}/${d.name}/meta.json`)).toString('utf8')) as { tag?: string; config: z.output<typeof ProcessConfig> };
        out.push({ pid: Number(d.name), ...(meta.tag ? { tag: meta.tag } : {}), config: meta.config });
      } catch { /* ended, or its record half written, meanwhile: not listed */ }
    }
    return out;
  };

  const pidOf = async (c: Caller, sel: { pid?: number; tag?: string }): Promise<number> => {
    if (sel.pid !== undefined) return sel.pid;
    const p = (await processes(c)).find((x) => x.tag === sel.tag);
    if (!p) throw new E2bError(404, `process with tag ${sel.tag} not found`);
    return p.pid;
  };

  /** Starts the process detached; answers its pid. */
  const start = async (c: Caller, req: z.output<typeof StartRequest>): Promise<number> => {
    if (req.pty !== undefined && req.pty !== null) throw unsupported('a PTY (sandbox.pty)');
    const bad = badEnvName(req.process.envs);
    if (bad !== undefined) throw new E2bError(400, `process.envs: ${JSON.stringify(bad)} is not a variable name`);
    const script = commandLine(req.process, c.peer?.envs);
    if (Buffer.byteLength(script) > MAX_SCRIPT_BYTES) throw new E2bError(400, `process: the command, its arguments and variables are longer than ${MAX_SCRIPT_BYTES} bytes`);
    const meta = JSON.stringify({ ...(req.tag ? { tag: req.tag } : {}), config: req.process });
    const r = await run(c, launcherCommand(script, meta, req.stdin === true));
    const pid = Number(r.stdout.trim().split('\n').at(-1));
    if (r.exit_code !== 0 || !Number.isInteger(pid) || pid <= 0) throw new E2bError(500, `the process could not be started: ${r.stderr.trim() || r.stdout.trim()}`);
    return pid;
  };

  /** The files of a process's directory (undefined: not there yet, or no such process). */
  const entriesOf = async (c: Caller, pid: number): Promise<Map<string, FileEntry> | undefined> => {
    try {
      const r = await file(c, { op: 'list', path: `${PROC_DIR}/${pid}` });
      return r.op === 'list' ? new Map(r.entries.map((e) => [e.name, e])) : undefined;
    } catch (e) {
      if (e instanceof DuraboxError && e.code === 'file_not_found') return undefined;
      throw e;
    }
  };
  const bytesOf = async (c: Caller, path: string): Promise<Buffer> => {
    const r = await file(c, { op: 'read', path, maxBytes: deps.api.session.fileMaxBytes });
    return r.op === 'read' ? Buffer.from(r.contentBase64, 'base64') : Buffer.alloc(0);
  };

  /** A process's events as a Connect server stream: start, its output as its files grow, then its end. */
  const follow = async (ctx: Context, c: Caller, pid: number, deadlineMs: number) => {
    const stream = openConnectStream(ctx, processEvent.start(pid), processEvent.keepalive());
    const write = stream.write;
    const sent = { out: 0, err: 0 };
    const capped = { out: false, err: false };
    const relay = async (entries: Map<string, FileEntry>, name: 'out' | 'err') => {
      const size = entries.get(name)?.size ?? 0;
      if (size <= sent[name] || capped[name]) return;
      const path = `${PROC_DIR}/${pid}/${name}`;
      const bytes = await bytesOf(c, path).catch((e: unknown) => {
        if (!(e instanceof DuraboxError && e.code === 'file_too_large')) throw e;
        // Past the file calls' limit the rest stays in the file; the stream goes on to the exit code.
        capped[name] = true;
        write(processEvent.data('stderr', Buffer.from(`\n[durabox: output past ${deps.api.session.fileMaxBytes} bytes is not streamed; it is in ${path}]\n`)));
        return Buffer.alloc(0);
      });
      if (bytes.length > sent[name]) write(processEvent.data(name === 'out' ? 'stdout' : 'stderr', bytes.subarray(sent[name])));
      sent[name] = Math.max(sent[name], bytes.length);
    };
    try {
      let wait = POLL_MIN_MS;
      let missing = 0;
      while (!stream.closed) {
        const entries = await entriesOf(c, pid);
        if (!entries) {
          // Just started (its directory is made by the process itself), or no such process.
          if (++missing > 50) throw new E2bError(404, `process ${pid} not found`);
        } else {
          const before = sent.out + sent.err;
          const ended = entries.has('exit');
          await relay(entries, 'out');
          await relay(entries, 'err');
          if (ended) {
            const code = Number((await bytesOf(c, `${PROC_DIR}/${pid}/exit`)).toString('utf8').trim());
            write(processEvent.end(Number.isInteger(code) ? code : -1));
            break;
          }
          wait = sent.out + sent.err > before ? POLL_MIN_MS : Math.min(POLL_MAX_MS, wait * 2);
        }
        if (Date.now() >= deadlineMs) throw new E2bError(504, `the stream of process ${pid} reached its timeout; the process goes on (connect to it again, or kill it)`);
        await new Promise((r) => setTimeout(r, wait));
      }
      stream.end();
    } catch (e) {
      stream.end(e);
    }
  };

  const deadlineOf = (ctx: Context) => {
    const asked = Number(ctx.get('connect-timeout-ms'));
    return Date.now() + (Number.isFinite(asked) && asked > 0 ? Math.min(asked, MAX_STREAM_MS) : DEFAULT_STREAM_MS);
  };

  return {
    /** process.Process/Start and /Connect (server streams). */
    async stream(ctx: Context, c: Caller, method: 'Start' | 'Connect', body: unknown) {
      if (method === 'Start') {
        const req = parsed(StartRequest, body);
        const deadline = deadlineOf(ctx);
        return follow(ctx, c, await start(c, req), deadline);
      }
      const sel = parsed(ConnectRequest, body).process;
      const pid = await pidOf(c, sel);
      if ((await entriesOf(c, pid)) === undefined) throw new E2bError(404, `process ${pid} not found`);
      return follow(ctx, c, pid, deadlineOf(ctx));
    },

    async list(c: Caller) {
      return { processes: (await processes(c)).map((p) => ({ config: p.config, pid: p.pid, ...(p.tag ? { tag: p.tag } : {}) })) };
    },

    async sendInput(c: Caller, body: unknown) {
      const req = parsed(InputRequest, body);
      if (req.input.pty !== undefined) throw unsupported('a PTY (sandbox.pty)');
      const pid = await pidOf(c, req.process);
      const r = await run(c, stdinCommand(pid, Buffer.from(req.input.stdin ?? '', 'base64')));
      if (r.exit_code === 1) throw new E2bError(404, `process ${pid} not found, or started without stdin (stdin=True)`);
      if (r.exit_code !== 0) throw new E2bError(504, `process ${pid} did not read its stdin within 5 seconds`);
      return {};
    },

    async closeStdin(c: Caller, body: unknown) {
      const pid = await pidOf(c, parsed(CloseRequest, body).process);
      const r = await run(c, closeStdinCommand(pid));
      if (r.exit_code !== 0) throw new E2bError(404, `process ${pid} not found, or its stdin is closed already`);
      return {};
    },

    async signal(c: Caller, body: unknown) {
      const req = parsed(SignalRequest, body);
      const sig = req.signal === 'SIGNAL_SIGTERM' || req.signal === 15 ? 'TERM' : req.signal === 'SIGNAL_SIGKILL' || req.signal === 9 ? 'KILL' : undefined;
      if (!sig) throw new E2bError(400, `signal: ${req.signal} is not SIGNAL_SIGTERM or SIGNAL_SIGKILL`);
      const pid = await pidOf(c, req.process);
      const r = await run(c, signalCommand(pid, sig));
      if (r.exit_code !== 0) throw new E2bError(404, `process ${pid} not found`);
      return {};
    },
  };
}
