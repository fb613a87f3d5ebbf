// Every figure the bench reports, with its target from spec §10: one table to check against the spec.
import { POLL_INTERVAL_MS } from '../api/mcp-tasks.js';
import type { FigureSpec } from './figures.js';

const baseline = (id: string, title: string, unit: string): FigureSpec => ({ id, title, unit, target: { kind: 'none' }, zeroErrors: true });

export const COLD_P50 = baseline('cold p50', 'baseline cold: docker run --rm print(1), p50', 'ms');
export const COLD_P99 = baseline('cold p99', 'baseline cold: docker run --rm print(1), p99', 'ms');
export const COLD_THROUGHPUT = baseline('cold throughput', 'baseline cold: docker run --rm print(1), throughput', 'runs/s');
/** What Temporal and the Node SDK alone cost a task here (temporal-floor.ts): the part no durabox change can cut. */
export const FLOOR_P50 = baseline('floor p50', 'baseline floor: bare Temporal workflow, one no-op activity on another worker, eager start, p50', 'ms');
export const EXEC_P50 = baseline('exec p50', 'baseline exec: docker exec (API) echo hi, p50', 'ms');

export const PYTHON_P50: FigureSpec = {
  id: 'python p50', title: 'pythonExec print(1), REST sync, one client, p50', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 0.15, baseline: COLD_P50.id }, zeroErrors: true,
};
export const PYTHON_P99: FigureSpec = {
  id: 'python p99', title: 'pythonExec print(1), REST sync, one client, p99', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 0.4, baseline: COLD_P50.id }, zeroErrors: true,
};
export const PYTHON_THROUGHPUT: FigureSpec = {
  id: 'python throughput', title: 'pythonExec print(1) throughput, concurrent clients, zero errors', unit: 'runs/s',
  target: { kind: 'relative', op: '>=', factor: 5, baseline: COLD_THROUGHPUT.id }, zeroErrors: true,
};
export const TERMINAL_P50: FigureSpec = {
  id: 'terminal p50', title: 'terminalExec echo hi on a live session, p50', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 1.0, baseline: EXEC_P50.id }, zeroErrors: true,
};
export const NEW_SESSION_P50: FigureSpec = {
  id: 'new session p50', title: 'new session to first command result, p50', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 0.35, baseline: COLD_P50.id }, zeroErrors: true,
};
export const RESUME_P50: FigureSpec = {
  id: 'paused resume p50', title: 'paused session: resume to first command result (checkpoint restored), p50', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 1.0, baseline: COLD_P50.id }, zeroErrors: true,
};
export const RESUME_LARGE_P50: FigureSpec = {
  id: 'paused resume 56 MiB p50', title: 'paused session with a 56 MiB workspace (32 MiB random, 24 MiB text): resume to first command result, p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const FORK_P50: FigureSpec = {
  id: 'fork p50', title: 'fork a session (small workspace) to its first command result in the fork (terminalExec fork_from: one call), p50', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 1.0, baseline: COLD_P50.id }, zeroErrors: true,
};
export const FORK_THEN_COMMAND_P50: FigureSpec = {
  id: 'fork then command p50', title: 'the same through POST /sessions/:id/fork, then the first command in the fork (two calls), p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const IDLE_SESSIONS_HELD: FigureSpec = {
  id: 'idle sessions held', title: 'idle sessions held by one host (largest level)', unit: 'sessions',
  target: { kind: 'absolute', op: '>=', threshold: 1000 }, zeroErrors: false,
};
export const IDLE_SESSION_MEMORY: FigureSpec = {
  id: 'idle session memory', title: 'memory per idle session (containers + worker RSS), largest level', unit: 'MiB',
  target: { kind: 'none' }, zeroErrors: false,
};

export const CODE_CONTEXT_P50: FigureSpec = {
  id: 'runCode context p50', title: 'runCode 1+1 in a live python context, REST, p50', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 1.0, baseline: EXEC_P50.id }, zeroErrors: true,
};
export const CODE_ONESHOT_P50: FigureSpec = {
  id: 'runCode one-shot p50', title: 'runCode 1+1 once in a fresh sandbox (IPython start included), REST, p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const FIRST_CHUNK_P50: FigureSpec = {
  id: 'first chunk delay p50', title: 'streamed chunk: from the print in the sandbox to the SSE client, p50', unit: 'ms',
  target: { kind: 'absolute', op: '<=', threshold: 100 }, zeroErrors: true,
};

// Zero loss of acknowledged work (spec §6): `echo x >> f` on a live session under each durability
// setting, each from an API process of its own started with that setting (durability-figures.ts).
export const APPEND_OFF_P50: FigureSpec = {
  id: 'append off p50', title: 'echo x >> f on a live session, checkpoints off (DURABOX_SESSION_CHECKPOINT_SEC=0), p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const APPEND_INTERVAL_P50: FigureSpec = {
  id: 'append interval p50', title: 'echo x >> f on a live session, durability interval (a background checkpoint at most every 10 s), p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const APPEND_ZERO_P50: FigureSpec = {
  id: 'append zero-loss p50', title: 'zero-loss: echo x >> f on a live session, durability zero (stored before the answer), p50', unit: 'ms',
  target: { kind: 'relative', op: '<=', factor: 1.15, baseline: APPEND_OFF_P50.id }, zeroErrors: true,
};
export const APPEND_10K_OFF_P50: FigureSpec = {
  id: 'append 10k files off p50', title: 'echo x >> f in a 10,000-file workspace, checkpoints off, p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const APPEND_10K_INTERVAL_P50: FigureSpec = {
  id: 'append 10k files interval p50', title: 'echo x >> f in a 10,000-file workspace, durability interval, p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const APPEND_10K_ZERO_P50: FigureSpec = {
  id: 'append 10k files zero-loss p50', title: 'zero-loss: echo x >> f in a 10,000-file workspace, durability zero, p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
/** What zero loss costs a command over the old behaviour, where the workspace is large. */
export const APPEND_10K_OVERHEAD: FigureSpec = {
  id: 'zero-loss 10k files overhead', title: 'zero-loss with a 10,000-file workspace (one file changed per command): p50 of durability zero minus p50 of interval', unit: 'ms',
  target: { kind: 'absolute', op: '<=', threshold: 20 }, zeroErrors: true,
};

// The workbench (docs/workbench): HTTP to a server in a session through the API's port proxy, beside the
// same server reached directly, and a keystroke's echo through the interactive terminal (workbench-figures.ts).
/** The same small GET as the proxy figure, straight to the same kind of server: what the proxy is measured against. */
export const PORT_DIRECT_P50 = baseline('port direct p50', 'baseline direct: GET of a 3-byte file from python3 -m http.server in a container of the terminal image (a session\'s limits, on the Docker bridge), from the host by its IP, a new connection per request, p50', 'ms');
export const PORT_PROXY_P50: FigureSpec = {
  id: 'port proxy p50', title: 'the same GET through the API\'s port proxy (/sessions/:id/ports/8000/, bearer token) to the server in a live session, a new connection per request, p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};
export const PORT_PROXY_OVERHEAD: FigureSpec = {
  id: 'port proxy overhead p50', title: 'port proxy overhead: p50 through the proxy minus p50 direct (measured side by side)', unit: 'ms',
  target: { kind: 'absolute', op: '<=', threshold: 5 }, zeroErrors: true,
};
export const PTY_ECHO_P50: FigureSpec = {
  id: 'pty keystroke echo p50', title: 'interactive terminal (PTY WebSocket): one printable keystroke to its echo, p50', unit: 'ms',
  target: { kind: 'absolute', op: '<=', threshold: 15 }, zeroErrors: true,
};
export const PTY_ECHO_P99: FigureSpec = {
  id: 'pty keystroke echo p99', title: 'interactive terminal: one keystroke to its echo, p99', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true,
};

// MCP (POST /mcp): the same pythonExec print(1) through real MCP clients, beside REST, timed side
// by side round by round (mcp-figures.ts).
/** REST's sync pythonExec timed in the same rounds as the MCP calls: what they are read against. */
export const MCP_REST_P50 = baseline('rest pythonExec p50', 'baseline REST: POST /tasks pythonExec print(1) sync, timed side by side with the MCP calls, p50', 'ms');
export const MCP_P50: FigureSpec = {
  id: 'mcp pythonExec p50', title: 'pythonExec print(1) as an MCP tools/call (TS SDK 1.x client, Streamable HTTP, 2025-11-25), one client, p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true, versus: MCP_REST_P50.id,
};
/**
 * A short task's client polls once at once (still working), sleeps one poll interval, polls again and
 * fetches the result: about the plain call plus one interval and two small requests. Two intervals allow
 * for one more poll when the task is not done by the second; more than that is a fault, not the protocol.
 */
export const MCP_TASK_P50: FigureSpec = {
  id: 'mcp task pythonExec p50', title: 'the same as a 2025-11-25 task (TS SDK 1.x callToolStream: tools/call with task, tasks/get each pollInterval, tasks/result) to its result, p50', unit: 'ms',
  target: { kind: 'offset', op: '<=', offset: 2 * POLL_INTERVAL_MS, baseline: MCP_P50.id }, zeroErrors: true,
};
export const MCP_2026_P50: FigureSpec = {
  id: 'mcp 2026 pythonExec p50', title: 'pythonExec print(1) as an MCP tools/call on 2026-07-28 (TS client 2.x, versionNegotiation auto, served by the 2.x SDK), p50', unit: 'ms',
  target: { kind: 'none' }, zeroErrors: true, versus: MCP_REST_P50.id,
};

/** Every figure, in report order: one that a run never reached is still listed, as an error. */
export const ALL_FIGURES: FigureSpec[] = [
  COLD_P50, COLD_P99, COLD_THROUGHPUT, EXEC_P50, FLOOR_P50,
  PYTHON_P50, PYTHON_P99, PYTHON_THROUGHPUT, TERMINAL_P50, NEW_SESSION_P50, RESUME_P50, RESUME_LARGE_P50, FORK_P50, FORK_THEN_COMMAND_P50, IDLE_SESSIONS_HELD, IDLE_SESSION_MEMORY,
  CODE_CONTEXT_P50, CODE_ONESHOT_P50, FIRST_CHUNK_P50,
  APPEND_OFF_P50, APPEND_INTERVAL_P50, APPEND_ZERO_P50, APPEND_10K_OFF_P50, APPEND_10K_INTERVAL_P50, APPEND_10K_ZERO_P50, APPEND_10K_OVERHEAD,
  PORT_DIRECT_P50, PORT_PROXY_P50, PORT_PROXY_OVERHEAD, PTY_ECHO_P50, PTY_ECHO_P99,
  MCP_REST_P50, MCP_P50, MCP_TASK_P50, MCP_2026_P50,
];
