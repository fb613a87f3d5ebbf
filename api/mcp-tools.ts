// The MCP tools: each one's title, description, annotations, input and output schemas (from contract/)
// and what it runs, as the caller's account. The endpoint that serves them is api/mcp.ts.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { DuraboxError, mcpErrorText } from '../contract/errors.js';
import {
  EchoInput, ExposedPort, ExposePortToolInput, ListPortsToolInput, SessionPorts, EchoOutput, ForkedSession, ListFilesToolInput, FileListing, PythonExecInput, PythonExecOutput, ReadFileOutput, RunCodeInput, RunCodeOutput,
  ReadFileToolInput, ReadImageToolInput, leaseWithin, SessionForkToolInput, SessionSummarySchema, SessionToolInput, SnapshotCreateToolInput, SnapshotDeleted, SnapshotDeleteToolInput, SnapshotList,
  SnapshotListToolInput, SnapshotView, TerminalExecInput, TerminalExecOutput, WriteFileOutput, WriteFileToolInput,
  CopyFileToolInput, DirectoryMade, EditFileToolInput, FileCopied, FileEdited, FileGlobResult, FileGrepResult, FileMoved, GlobToolInput, GrepToolInput,
  MakeDirectoryToolInput, MoveFileToolInput,
} from '../contract/schemas.js';
import type { Capability } from '../contract/capabilities.js';
import type { RunCodeOutput as CodeOutput, FileOp, FileResult } from '../contract/messages.js';
import { leaseBounds, type AppDeps } from './context.js';
import { TASKS_NOTE } from './mcp-tasks.js';
import { newStreamId, relayingOutput, type OutputPiece } from './events.js';
import { runCommand, startCommand } from './handlers/commands.js';
import { snapshotView } from './handlers/snapshots.js';
import { linkTo, openPort, registerService, type Origin } from './handlers/workbench.js';
import * as browser from './workbench/browser.js';
import { browserEndpoint } from './workbench/browser-routes.js';
import {
  BROWSER_CAPTURE_MAX_BYTES, BROWSER_TEXT_MAX_CHARS, BrowserActed, BrowserCapture, BrowserClickToolInput, BrowserEvaluated, BrowserEvaluateToolInput, BrowserHtml,
  BrowserHtmlToolInput, BrowserNavigated, BrowserNavigateToolInput, BrowserPdfToolInput, BrowserScreenshotToolInput, BrowserTypeToolInput, BrowserWaited, BrowserWaitToolInput,
} from '../contract/schemas.js';

export type Extra = { authInfo?: { extra?: Record<string, unknown> } };

/** Where the caller reached the API (for the links tools answer). */
export function originOf(extra: Extra): Origin {
  const at = extra.authInfo?.extra?.origin as Origin | undefined;
  return at ?? { protocol: 'http', host: 'localhost' };
}

export function accountOf(extra: Extra): string {
  const id = extra.authInfo?.extra?.accountId;
  if (typeof id !== 'string') throw new DuraboxError('unauthenticated');
  return id;
}

/** A result already shaped as MCP content (readImage), as opposed to structured output. */
export class Content {
  constructor(readonly result: CallToolResult) {}
}

/** Output of the running call as it is written, for a caller that sent a progress token. */
export type Progress = ((chunk: OutputPiece) => void) | undefined;

export interface ToolSpec {
  config: { title: string; description: string; outputSchema?: z.ZodObject; annotations: Record<string, boolean> };
  input: z.ZodObject;
  run(args: any, accountId: string, progress: Progress, at: Origin): Promise<Record<string, unknown> | Content>;
}

/** Runs `work` while relaying the output written under `streamId` to `progress`, when there is one. */
function relaying<T>(deps: AppDeps, progress: Progress, streamId: string, work: () => Promise<T>): Promise<T> {
  return progress ? relayingOutput(deps.output, streamId, progress, work) : work();
}

/** A capability run as a task, its output relayed while it runs. */
async function runTask(deps: AppDeps, accountId: string, capability: Capability, args: { timeout_ms: number }, progress: Progress): Promise<unknown> {
  const started = await startCommand(deps, accountId, capability, args, args.timeout_ms);
  return relaying(deps, progress, started.taskId, () => started.outcome());
}

/** The bytes as text when they are UTF-8 without NUL bytes (text a model can read); otherwise undefined. */
export function utf8Text(bytes: Buffer): string | undefined {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) && !text.includes('\0') ? text : undefined;
}

/** Execution failures are tool results with isError and `<code>: <message>`, so an agent can act on them. */
export async function asToolResult(work: () => Promise<Record<string, unknown> | Content>): Promise<CallToolResult> {
  try {
    const r = await work();
    if (r instanceof Content) return r.result;
    return { content: [{ type: 'text', text: JSON.stringify(r) }], structuredContent: r };
  } catch (e) {
    const text = e instanceof DuraboxError ? mcpErrorText(e.code, e.message) : mcpErrorText('execution_failed', (e as Error).message);
    return { content: [{ type: 'text', text }], isError: true };
  }
}

// Code execution reaches outside the model's own context and may change what it touches.
const EXECUTES_CODE = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true };

export function toolSpecs(deps: AppDeps): Record<string, ToolSpec> {
  const fileMaxBytes = deps.api.session.fileMaxBytes;
  const file = (accountId: string, sessionId: string, op: Parameters<AppDeps['sessions']['file']>[2]) => deps.sessions.file(accountId, sessionId, op);
  return {
    echo: {
      config: {
        title: 'Echo through a worker',
        description: 'Sends a message through a durabox worker and back. Use it to check that the platform and a worker are reachable; it runs no code. Limit: 64 KiB message, timeout_ms up to 60000.',
        outputSchema: EchoOutput,
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      input: EchoInput,
      run: async (args, accountId) => (await runCommand(deps, accountId, 'echo', args, args.timeout_ms)) as Record<string, unknown>,
    },
    pythonExec: {
      config: {
        title: 'Run Python code in a fresh sandbox',
        description:
          'Runs a Python 3 program once in an isolated sandbox and returns its stdout (output), stderr and exit_code. ' +
          'Use it for calculations, data processing and checking code. Nothing persists between calls: no files, processes or variables ' +
          '(use terminalExec sessions or runCode contexts for state). numpy, pandas, matplotlib, scipy, scikit-learn, pillow, openpyxl, sympy ' +
          'and requests are installed; no network access. template names one of the account\'s templates (more packages). ' +
          'A non-zero exit_code is a normal result (read stderr). Limits: timeout_ms 1..600000 (default 60000), 256 MiB memory, ' +
          'each output stream capped (stdout_truncated/stderr_truncated tell when cut).' + TASKS_NOTE,
        outputSchema: PythonExecOutput,
        annotations: EXECUTES_CODE,
      },
      input: PythonExecInput,
      run: async (args, accountId, progress) => (await runTask(deps, accountId, 'pythonExec', args, progress)) as Record<string, unknown>,
    },
    terminalExec: {
      config: {
        title: 'Run a shell command in a stateful session',
        description:
          'Runs a shell command (sh -lc) in a terminal session whose files persist between calls (bash, python3, pip/venv, git, curl, jq, ' +
          'ripgrep, tree, file, zip/unzip, sqlite3, node, numpy/pandas/matplotlib). Omit session_id to create a session; pass the returned session_id to keep working in it. ' +
          'Use it for multi-step work on files; use pythonExec for one-off computations. An unknown session_id fails with session_not_found ' +
          'unless create_if_missing is true; a second command while one runs fails with session_busy. Each call extends the session\'s lease ' +
          '(lease_ttl_sec, never shortened); an idle session ends when its lease runs out and its files are gone. No network. ' +
          'template (only when creating the session) names one of the account\'s terminal templates: more packages, its limits and network policy. ' +
          'from_snapshot (only when creating the session) starts it from one of the account\'s named snapshots (snapshotCreate): its /workspace is the snapshot\'s; ' +
          'fork_from (only when creating) makes the new session a fork of a live session (as sessionFork) and runs the command there, in one call. ' +
          'A command past timeout_ms is killed; the session is kept. Output streams are capped (stdout_truncated/stderr_truncated).' + TASKS_NOTE,
        outputSchema: TerminalExecOutput,
        annotations: EXECUTES_CODE,
      },
      input: leaseWithin(TerminalExecInput, leaseBounds(deps.api)),
      run: async (args, accountId, progress) => {
        const streamId = progress ? newStreamId() : undefined;
        const work = () => deps.sessions.exec(accountId, args, undefined, streamId);
        return (await (streamId ? relaying(deps, progress, streamId, work) : work())) as unknown as Record<string, unknown>;
      },
    },
    runCode: {
      config: {
        title: 'Run code in a Jupyter-style interpreter',
        description:
          'Runs a cell of python (IPython), javascript (Node.js) or bash and returns its rich results: the last expression\'s value ' +
          '(a pandas DataFrame as HTML and text), every matplotlib figure as a PNG image you can see, display() output, printed ' +
          'stdout/stderr, and an exception as `error` {name, value, traceback} (a normal result: read it and fix the code). ' +
          'With session_id the cell runs in that terminal session\'s container, in an interpreter context that keeps variables, ' +
          'imports and definitions between calls and shares /workspace with terminalExec; without it the cell runs once in a fresh ' +
          'sandbox and nothing is kept. context_id picks a context made with the REST API; omitted, each language has a default ' +
          'context per session. A cell past timeout_ms (1..600000, default 60000) is interrupted and the context kept (timed_out); ' +
          'a context whose process died says so and the next call starts it fresh (context_restarted). Packages: numpy, pandas, ' +
          'matplotlib, scipy, scikit-learn, pillow, openpyxl, sympy, requests (one-shot runs may name an account template for more); ' +
          'no network. Output streams are capped.' + TASKS_NOTE,
        outputSchema: RunCodeOutput,
        annotations: EXECUTES_CODE,
      },
      input: RunCodeInput,
      run: async (args, accountId, progress) => {
        let out: CodeOutput;
        if (args.session_id) {
          const streamId = newStreamId();
          out = await relaying(deps, progress, streamId, () => deps.sessions.runCode(accountId, args, undefined, progress ? streamId : undefined));
        } else {
          out = (await runTask(deps, accountId, 'runCode', args, progress)) as CodeOutput;
        }
        return new Content(codeToolResult(out));
      },
    },
    sessionFork: {
      config: {
        title: 'Fork a terminal session',
        description:
          'Starts a new terminal session (a new session_id, the same template) whose /workspace is the given session\'s as of its last ' +
          'acknowledged command or file write, on any host. The original goes on untouched: later changes in one are not in the other. ' +
          'Use it to try something risky or several alternatives side by side without losing the current state. Files and the python ' +
          'variables of the default runCode context come along; running processes do not. Counts toward the account\'s session limit; the new session has its own lease (lease_ttl_sec).',
        outputSchema: ForkedSession,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      },
      input: leaseWithin(SessionForkToolInput, leaseBounds(deps.api)),
      run: async (args, accountId) => (await deps.sessions.fork(accountId, args.session_id, { lease_ttl_sec: args.lease_ttl_sec })) as unknown as Record<string, unknown>,
    },
    sessionPause: {
      config: {
        title: 'Pause a terminal session',
        description:
          'Pauses the session now instead of when it has idled long enough: its /workspace is saved and its container removed, so it ' +
          'holds no host while you are away. Running processes end (files stay). The next call naming the session (or sessionResume) ' +
          'brings it back, on any host, with its files. A command or file call running at the time keeps the session live: the ' +
          'answer then says status busy (or active) and nothing is paused. Fails with conflict when the platform keeps no checkpoints. ' +
          'The lease still runs while paused: a paused session whose lease runs out ends.',
        outputSchema: SessionSummarySchema,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      },
      input: SessionToolInput,
      run: async (args, accountId) => (await deps.sessions.pause(accountId, args.session_id)) as unknown as Record<string, unknown>,
    },
    sessionResume: {
      config: {
        title: 'Resume a paused terminal session',
        description:
          'Brings a paused session back into a container now (restored from its saved /workspace, on any host), so the next command ' +
          'starts at once; any call naming the session would do the same. A live session is left as it is. Extends the lease as any call does.',
        outputSchema: SessionSummarySchema,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      },
      input: SessionToolInput,
      run: async (args, accountId) => (await deps.sessions.resume(accountId, args.session_id)) as unknown as Record<string, unknown>,
    },
    snapshotCreate: {
      config: {
        title: 'Keep a named snapshot of a session',
        description:
          'Keeps the session\'s /workspace (as of its last acknowledged command or file write) under a name of your account. The snapshot ' +
          'outlives the session: start a new session from it later with terminalExec from_snapshot. Names are 1..64 letters, digits, dot, ' +
          'dash or underscore, unique per account (delete one to reuse its name). Limited per account in number and size (quota_exceeded ' +
          'names the limit). Files and saved python variables are kept; running processes are not.',
        outputSchema: SnapshotView,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      },
      input: SnapshotCreateToolInput,
      run: async (args, accountId) => snapshotView(await deps.sessions.saveSnapshot(accountId, args.session_id, args.name)),
    },
    snapshotList: {
      config: {
        title: 'List named snapshots',
        description: 'Lists your account\'s named snapshots, newest first: name, the session it was taken from, its template, size and time.',
        outputSchema: SnapshotList,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: SnapshotListToolInput,
      run: async (_args, accountId) => {
        const items = (await deps.snapshots.listNamed(accountId)).map(snapshotView);
        return { items, total: items.length };
      },
    },
    snapshotDelete: {
      config: {
        title: 'Delete a named snapshot',
        description: 'Deletes one of your account\'s named snapshots, freeing its quota. Sessions already started from it keep their files.',
        outputSchema: SnapshotDeleted,
        annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      },
      input: SnapshotDeleteToolInput,
      run: async (args, accountId) => {
        if (!(await deps.snapshots.deleteNamed(accountId, args.name))) throw new DuraboxError('snapshot_not_found', `no snapshot ${args.name}`);
        return { name: args.name, deleted: true };
      },
    },
    readImage: {
      config: {
        title: 'Read an image from a session',
        description:
          'Returns an image file of a terminal session (PNG, JPEG, GIF, WebP, …) as an image the model can see, e.g. a chart made with ' +
          `a command. Non-image files answer "unsupported mime type: <mime>; expected image/*": use readFile for text. Limit: ${fileMaxBytes} bytes.`,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: ReadImageToolInput,
      run: async (args, accountId) => {
        const f = await file(accountId, args.session_id, { op: 'read', path: args.file_path, maxBytes: fileMaxBytes });
        const mime = f.op === 'read' ? (f.mime ?? 'application/octet-stream') : 'inode/directory';
        if (f.op !== 'read' || !mime.startsWith('image/')) return new Content({ content: [{ type: 'text', text: `unsupported mime type: ${mime}; expected image/*` }] });
        return new Content({ content: [{ type: 'image', data: f.contentBase64, mimeType: mime }] });
      },
    },
    readFile: {
      config: {
        title: 'Read a file from a session',
        description: `Reads a file of a terminal session (relative to /workspace, or under /workspace or /tmp). Text comes back as utf8; other bytes as base64 (encoding tells). A directory answers with its listing. Limit: ${fileMaxBytes} bytes.`,
        outputSchema: ReadFileOutput,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: ReadFileToolInput,
      run: async (args, accountId) => {
        const f = await file(accountId, args.session_id, { op: 'read', path: args.path, maxBytes: fileMaxBytes });
        if (f.op === 'list') return { path: f.path, entries: f.entries };
        if (f.op !== 'read') return { path: args.path };
        const text = utf8Text(Buffer.from(f.contentBase64, 'base64'));
        return { path: f.path, size: f.size, mime: f.mime, encoding: text !== undefined ? 'utf8' : 'base64', content: text ?? f.contentBase64 };
      },
    },
    writeFile: {
      config: {
        title: 'Write a file into a session',
        description: `Creates or replaces a file in a terminal session (parent directories are created). Content is utf8 text, or base64 with encoding=base64. Limit: ${fileMaxBytes} bytes.`,
        outputSchema: WriteFileOutput,
        annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      },
      input: WriteFileToolInput,
      run: async (args, accountId) => {
        const bytes = args.encoding === 'base64' ? Buffer.from(args.content, 'base64') : Buffer.from(args.content, 'utf8');
        if (bytes.length > fileMaxBytes) throw new DuraboxError('file_too_large', `content is ${bytes.length} bytes, more than ${fileMaxBytes}`);
        const f = await file(accountId, args.session_id, { op: 'write', path: args.path, contentBase64: bytes.toString('base64') });
        return f.op === 'write' ? { path: f.path, size: f.size } : { path: args.path, size: bytes.length };
      },
    },
    listFiles: {
      config: {
        title: 'List files in a session',
        description: 'Lists a directory of a terminal session (default /workspace): name, type, size, modification time.',
        outputSchema: FileListing,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: ListFilesToolInput,
      run: async (args, accountId) => {
        const f = await file(accountId, args.session_id, { op: 'list', path: args.path });
        return f.op === 'list' ? { path: f.path, entries: f.entries } : { path: args.path, entries: [] };
      },
    },
    ...browserTools(deps),
    ...portTools(deps),
    ...fileTools(deps),
  };
}

// ---- Ports (workbench: servers in a session, served through the API; docs/workbench/ports.md) ----------

function portTools(deps: AppDeps): Record<string, ToolSpec> {
  return {
    exposePort: {
      config: {
        title: 'Serve a port of a session to people outside it',
        description: 'Makes a server running in a terminal session reachable from outside: answers a signed link (url) that opens http://localhost:<port> of the session ' +
          'in any browser or HTTP client, without a token, until expires_at — give it to the user to try the web app you built. ' +
          'Give `command` to have durabox start the server (when nothing listens yet) and start it again after the session resumes or moves; omit it for a server you already ' +
          'started in the background. Answers port_not_listening when nothing listens on the port within a minute. Inside the session, the browser tools reach ' +
          'http://localhost:<port> directly: this tool is for people and programs outside it. HTTP and WebSockets pass through; pages served under the API\'s own address ' +
          'run with a sandboxed origin (use root-relative links carefully: the app is served under a path prefix, given in X-Forwarded-Prefix; preview_url, where configured, has none).',
        outputSchema: ExposedPort,
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      },
      input: ExposePortToolInput,
      run: async (args, accountId, _progress, at) => {
        const sessionId: string = args.session_id;
        if (args.command) await registerService(deps, accountId, sessionId, args.port, args.command);
        await openPort(deps, accountId, sessionId, args.port);
        const link = linkTo(deps, at, accountId, sessionId, args.port, args.link_ttl_sec);
        return { port: args.port, listening: true, url: link.url, path: `/api/v1/sessions/${sessionId}/ports/${args.port}/`, ...(link.preview_url ? { preview_url: link.preview_url } : {}), expires_at: link.expires_at, ...(args.command ? { command: args.command } : {}) };
      },
    },
    listPorts: {
      config: {
        title: 'List the ports a session listens on',
        description: 'Lists the TCP ports something in a terminal session listens on (servers you started), each with the API path that serves it. Use exposePort to get a link for one.',
        outputSchema: SessionPorts,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: ListPortsToolInput,
      run: async (args, accountId) => {
        const ports = await deps.tunnels.ports(accountId, args.session_id);
        return { ports: ports.map((port) => ({ port, path: `/api/v1/sessions/${args.session_id}/ports/${port}/` })) };
      },
    },
  };
}

// ---- Browser (workbench: the session's headless Chromium; docs/workbench/browser.md) --------------------

const BROWSER_NEEDS = 'Needs a session of the browser template (start one with terminalExec template "browser") or of an account template with browser: true; ' +
  'other sessions answer browser_unavailable. The browser reaches the session\'s own localhost (test the web app you run there) and what its template\'s network allows. ' +
  'The page is kept between calls (one tab). Selectors are Playwright\'s: CSS, text=..., xpath=...; the first match is used.';
const DRIVES_BROWSER = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true };
const READS_BROWSER = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/** The browser tools: each finds the session's CDP endpoint for the caller's account, then acts on its page. */
function browserTools(deps: AppDeps): Record<string, ToolSpec> {
  const on = async <T>(accountId: string, sessionId: string, act: (ep: browser.CdpEndpoint) => Promise<T>): Promise<T> =>
    act(await browserEndpoint(deps, accountId, sessionId));
  const tool = (title: string, description: string, input: z.ZodObject, outputSchema: z.ZodObject, annotations: Record<string, boolean>, run: ToolSpec['run']): ToolSpec =>
    ({ config: { title, description: `${description} ${BROWSER_NEEDS}`, outputSchema, annotations }, input, run });
  return {
    browserNavigate: tool('Open a URL in the session\'s browser',
      'Loads an http(s) URL (or about:blank) in the session\'s headless Chromium and answers the final url, title and HTTP status (a 404 page is a page, not a failure). ' +
      'Use it first, e.g. http://localhost:3000/ for a server you started in the session. file:, chrome: and data: URLs are refused (read files with readFile). ' +
      'A URL that cannot load answers navigation_failed with the net::ERR_ reason. wait_until: load (default), domcontentloaded, networkidle or commit; timeout_ms up to 120000.',
      BrowserNavigateToolInput, BrowserNavigated, DRIVES_BROWSER,
      async (args, accountId) => on(accountId, args.session_id, (ep) => browser.navigate(ep, args))),
    browserScreenshot: tool('Screenshot the session\'s browser page',
      'Returns a PNG of the page as an image you can see: the viewport, the whole page (full_page) or one element (selector). ' +
      `Use it to check what a page looks like after navigating or acting. At most ${BROWSER_CAPTURE_MAX_BYTES} bytes (capture_too_large: give a selector or leave full_page off).`,
      BrowserScreenshotToolInput, BrowserCapture, READS_BROWSER,
      async (args, accountId) => {
        const shot = await on(accountId, args.session_id, (ep) => browser.screenshot(ep, args));
        const info = { url: shot.url, title: shot.title, size: shot.bytes.length, mime: shot.mime };
        return new Content({ content: [{ type: 'image', data: shot.bytes.toString('base64'), mimeType: shot.mime }, { type: 'text', text: JSON.stringify(info) }], structuredContent: info });
      }),
    browserClick: tool('Click an element in the session\'s browser',
      'Clicks the first element matching selector once it is visible and enabled (waiting up to timeout_ms; selector_timeout when it never is). Answers the page\'s url and title after the click.',
      BrowserClickToolInput, BrowserActed, DRIVES_BROWSER,
      async (args, accountId) => on(accountId, args.session_id, (ep) => browser.click(ep, args))),
    browserType: tool('Type into a field in the session\'s browser',
      'Fills the input, textarea or contenteditable matching selector with text (replacing its value); submit: true then presses Enter (submits a form). ' +
      'An element that is not a field answers invalid_input; one that never appears, selector_timeout.',
      BrowserTypeToolInput, BrowserActed, DRIVES_BROWSER,
      async (args, accountId) => on(accountId, args.session_id, (ep) => browser.type(ep, args))),
    browserEvaluate: tool('Run JavaScript in the session\'s browser page',
      'Evaluates a JavaScript expression in the page (a promise is awaited) and answers its value as JSON, e.g. "document.querySelectorAll(\'li\').length". ' +
      `Wrap statements in "(() => { ... })()". Values over ${BROWSER_TEXT_MAX_CHARS} characters of JSON come back cut (truncated: true). ` +
      'An exception answers script_error with its message; an expression still running at timeout_ms answers script_error, and a page stuck in a loop is closed.',
      BrowserEvaluateToolInput, BrowserEvaluated, EXECUTES_CODE,
      async (args, accountId) => on(accountId, args.session_id, (ep) => browser.evaluate(ep, args))),
    browserGetHtml: tool('Get HTML from the session\'s browser page',
      `Answers the outerHTML of the first element matching selector, or the whole document without one; cut at ${BROWSER_TEXT_MAX_CHARS} characters (truncated, chars tell). ` +
      'Prefer a selector on large pages; use browserScreenshot to see the rendering.',
      BrowserHtmlToolInput, BrowserHtml, READS_BROWSER,
      async (args, accountId) => on(accountId, args.session_id, (ep) => browser.html(ep, args))),
    browserWaitFor: tool('Wait for an element in the session\'s browser',
      'Waits until an element matching selector is visible (default), attached to the DOM, or hidden, e.g. after a click that loads data. ' +
      'One that never gets there within timeout_ms answers selector_timeout naming the selector.',
      BrowserWaitToolInput, BrowserWaited, READS_BROWSER,
      async (args, accountId) => on(accountId, args.session_id, (ep) => browser.waitFor(ep, args))),
    browserPdf: tool('Print the session\'s browser page to PDF',
      `Prints the page to a PDF (Letter, backgrounds printed) and returns it as an embedded resource (application/pdf, base64 blob), at most ${BROWSER_CAPTURE_MAX_BYTES} bytes. ` +
      'To keep it in the session, write it with writeFile (encoding base64).',
      BrowserPdfToolInput, BrowserCapture, READS_BROWSER,
      async (args, accountId) => {
        const doc = await on(accountId, args.session_id, (ep) => browser.pdf(ep, args));
        const info = { url: doc.url, title: doc.title, size: doc.bytes.length, mime: doc.mime };
        const uri = `durabox://sessions/${encodeURIComponent(args.session_id)}/browser/page.pdf`;
        return new Content({
          content: [{ type: 'text', text: JSON.stringify(info) }, { type: 'resource', resource: { uri, mimeType: doc.mime, blob: doc.bytes.toString('base64') } }],
          structuredContent: info,
        });
      }),
  };
}

// ---- File tools (docs/workbench/file-tools.md) ------------------------------------------------------
const changesFiles = { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false };
const SESSION_NOTE = 'Needs the session_id of a terminal session (from terminalExec). Paths are relative to /workspace, or absolute under /workspace or /tmp; nothing outside them is reachable, symlinks included.';

function fileTools(deps: AppDeps): Record<string, ToolSpec> {
  const fileMaxBytes = deps.api.session.fileMaxBytes;
  const run = async <K extends FileResult['op']>(accountId: string, sessionId: string, op: FileOp & { op: K }) =>
    (await deps.sessions.file(accountId, sessionId, op)) as Extract<FileResult, { op: K }>;
  return {
    glob: {
      config: {
        title: 'Find files by name pattern in a session',
        description:
          'Lists the paths under a directory of a terminal session (default /workspace) that match a glob, sorted: * and ? match within one name, ' +
          '** any number of directories (**/*.py: Python files at any depth; *.py: only directly in path), [abc] a character class, {ts,tsx} alternatives. ' +
          'Use it to find files before reading or editing them, instead of running find or ls. Answers absolute paths (files, directories and symlinks); ' +
          `at most limit of them (default 1000, up to 10000): truncated says there were more, so narrow the pattern. ${SESSION_NOTE}`,
        outputSchema: FileGlobResult,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: GlobToolInput,
      run: async (args, accountId) => {
        const r = await run(accountId, args.session_id, { op: 'glob', path: args.path, pattern: args.pattern, limit: args.limit });
        return { path: r.path, matches: r.matches, truncated: r.truncated };
      },
    },
    grep: {
      config: {
        title: 'Search file contents in a session',
        description:
          'Searches the lines of a file, or of every file under a directory (default /workspace), for a Perl-compatible regular expression, and ' +
          'answers each match as {path, line, text}: path absolute, line 1-based, text the line (cut after 500 characters). Binary files are skipped. ' +
          'glob narrows the files searched (*.ts matches names at any depth; src/**/*.ts a path under path); ignore_case matches without case. ' +
          'Use it to find where something is defined or used before editing. At most limit matches (default 200, up to 2000): truncated says ' +
          `there were more, so narrow the pattern or the glob. A pattern grep refuses fails with invalid_pattern. ${SESSION_NOTE}`,
        outputSchema: FileGrepResult,
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      input: GrepToolInput,
      run: async (args, accountId) => {
        const r = await run(accountId, args.session_id, { op: 'grep', path: args.path, pattern: args.pattern, ...(args.glob ? { glob: args.glob } : {}), ignoreCase: args.ignore_case, limit: args.limit });
        return { path: r.path, matches: r.matches, truncated: r.truncated };
      },
    },
    editFile: {
      config: {
        title: 'Edit a file in a session (exact search and replace)',
        description:
          'Replaces old_text with new_text in a file of a terminal session and writes it back; answers how many replacements were made. old_text ' +
          'must match the file exactly (whitespace, indentation and line endings included: read the file first) and appear exactly once, unless ' +
          'replace_all is true. Text not found fails with edit_no_match; text found more than once fails with edit_ambiguous saying how many times: ' +
          'include more surrounding lines to make it unique, or set replace_all. Use it for targeted changes instead of rewriting a whole file with ' +
          `writeFile. Files up to ${fileMaxBytes} bytes. ${SESSION_NOTE}`,
        outputSchema: FileEdited,
        annotations: changesFiles,
      },
      input: EditFileToolInput,
      run: async (args, accountId) => {
        const r = await run(accountId, args.session_id, { op: 'edit', path: args.path, oldText: args.old_text, newText: args.new_text, replaceAll: args.replace_all });
        return { path: r.path, replacements: r.replacements, size: r.size };
      },
    },
    moveFile: {
      config: {
        title: 'Move or rename a file or directory in a session',
        description:
          'Moves (renames) a file or a directory of a terminal session from `from` to `to`, the new full path (not a directory to move it into); ' +
          'missing parent directories of `to` are created. A file already at `to` fails with file_exists unless overwrite is true; a directory there ' +
          `is never replaced. A missing source fails with file_not_found. ${SESSION_NOTE}`,
        outputSchema: FileMoved,
        annotations: changesFiles,
      },
      input: MoveFileToolInput,
      run: async (args, accountId) => {
        const r = await run(accountId, args.session_id, { op: 'move', path: args.from, to: args.to, overwrite: args.overwrite });
        return { from: r.path, to: r.to };
      },
    },
    copyFile: {
      config: {
        title: 'Copy a file or directory in a session',
        description:
          'Copies a file of a terminal session to `to`, the copy\'s full path (missing parent directories are created); a directory is copied with ' +
          'everything in it only when recursive is true. A file already at `to` fails with file_exists unless overwrite is true; a directory there is ' +
          `never replaced. Modes and modification times are kept. ${SESSION_NOTE}`,
        outputSchema: FileCopied,
        annotations: { ...changesFiles, destructiveHint: false },
      },
      input: CopyFileToolInput,
      run: async (args, accountId) => {
        const r = await run(accountId, args.session_id, { op: 'copy', path: args.from, to: args.to, recursive: args.recursive, overwrite: args.overwrite });
        return { from: r.path, to: r.to };
      },
    },
    makeDirectory: {
      config: {
        title: 'Create a directory in a session',
        description:
          'Creates a directory in a terminal session. With parents true its missing parent directories are created too and a directory that already ' +
          'exists is fine (created: false), like mkdir -p; without it a missing parent fails with file_not_found and an existing path with file_exists. ' +
          `(writeFile creates parent directories by itself.) ${SESSION_NOTE}`,
        outputSchema: DirectoryMade,
        annotations: { ...changesFiles, destructiveHint: false, idempotentHint: true },
      },
      input: MakeDirectoryToolInput,
      run: async (args, accountId) => {
        const r = await run(accountId, args.session_id, { op: 'mkdir', path: args.path, parents: args.parents });
        return { path: r.path, created: r.created };
      },
    },
  };
}

/**
 * A cell's result for a model: every PNG or JPEG as an image item it can see, the whole result as
 * structuredContent, and as text the same result with the images' base64 left out (they are above).
 */
export function codeToolResult(out: CodeOutput): CallToolResult {
  const images: CallToolResult['content'] = [];
  const results = out.results.map((r) => {
    const { png, jpeg, ...rest } = r;
    if (png) images.push({ type: 'image', data: png, mimeType: 'image/png' });
    if (jpeg) images.push({ type: 'image', data: jpeg, mimeType: 'image/jpeg' });
    return { ...rest, ...(png ? { png: `<image/png, ${Math.floor((png.length * 3) / 4)} bytes: the image item>` } : {}), ...(jpeg ? { jpeg: '<image/jpeg: the image item>' } : {}) };
  });
  return {
    content: [{ type: 'text', text: JSON.stringify({ ...out, results }) }, ...images],
    structuredContent: out as unknown as Record<string, unknown>,
  };
}
