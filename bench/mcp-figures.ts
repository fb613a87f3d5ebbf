// pythonExec through MCP (POST /mcp) as an agent's host calls it, with the SDKs' own clients: a plain
// tools/call through the 1.x SDK (2025-11-25), the same call as a 2025-11-25 task polled to its result,
// and a plain call through the 2.x client on 2026-07-28. REST's sync pythonExec is timed in the same
// rounds, each operation once a round, the first one turning (load.ts), so they read against each other.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as Client2, StreamableHTTPClientTransport as StreamableHTTPClientTransport2 } from '@modelcontextprotocol/client';
import { performance } from 'node:perf_hooks';
import { POLL_INTERVAL_MS } from '../api/mcp-tasks.js';
import { MCP_2026_P50, MCP_P50, MCP_REST_P50, MCP_TASK_P50 } from './catalog.js';
import { attempt, failed, record, type FigureSpec, type Measurement, type Outcome } from './figures.js';
import { latencyMeasurement, measureInterleaved, type LatencyRun } from './load.js';
import { PRINT_ONE } from './load-child.js';
import { addFigure, type PlatformContext } from './context.js';
import { summarize, type LatencySummary } from './stats.js';

const CLIENT_INFO = { name: 'durabox-bench', version: '1.0.0' };
/** The revision the 2.x client must have negotiated, or its figure would be a 2025 call under another name. */
export const MODERN_REVISION = '2026-07-28';

/** One timed task, from the client's side: when it was created, how many tasks/get it took, when its result came. */
export interface TaskSample {
  createdMs: number;
  polls: number;
  resultMs: number;
}

/** What the task samples say about where a task's time went: creation, polling, result. */
export interface TaskSummary {
  n: number;
  /** From sending tools/call to the created task. */
  createdMs: LatencySummary;
  /** From sending tools/call to the result of tasks/result. */
  resultMs: LatencySummary;
  /** How many tasks tasks/get answered per task, by count ({ "2": 38, "3": 2 }). */
  polls: Record<string, number>;
  pollIntervalMs: number;
}

export function summarizeTasks(samples: TaskSample[]): TaskSummary | undefined {
  if (samples.length === 0) return undefined;
  const polls: Record<string, number> = {};
  for (const s of samples) polls[s.polls] = (polls[s.polls] ?? 0) + 1;
  return {
    n: samples.length,
    createdMs: summarize(samples.map((s) => s.createdMs)),
    resultMs: summarize(samples.map((s) => s.resultMs)),
    polls,
    pollIntervalMs: POLL_INTERVAL_MS,
  };
}

/** Throws unless a tool result is print(1)'s: not an error, its output `1\n`. */
export function checkPrintOne(result: unknown, how: string): void {
  const r = result as { isError?: boolean; structuredContent?: { output?: unknown }; content?: Array<{ text?: string }> } | undefined;
  if (r?.isError) throw new Error(`${how} answered an error: ${r.content?.[0]?.text ?? JSON.stringify(r)}`);
  const output = r?.structuredContent?.output;
  if (output !== PRINT_ONE.expectedOutput) throw new Error(`${how} printed ${JSON.stringify(output)}, expected ${JSON.stringify(PRINT_ONE.expectedOutput)}`);
}

interface McpClients {
  v1: Client;
  v2: Client2;
}

/** Both clients, connected with the bench's token and their tools listed, as a host does before its first call. */
async function connectClients(url: URL, token: string, timeout: number): Promise<McpClients> {
  const requestInit = { headers: { Authorization: `Bearer ${token}` } };
  const v1 = new Client(CLIENT_INFO);
  await v1.connect(new StreamableHTTPClientTransport(url, { requestInit }), { timeout });
  const v2 = new Client2(CLIENT_INFO, { versionNegotiation: { mode: 'auto' } });
  try {
    if (!v1.getServerCapabilities()?.tasks?.requests?.tools?.call) throw new Error('the 1.x client\'s initialize answered no tools/call tasks capability');
    await v2.connect(new StreamableHTTPClientTransport2(url, { requestInit }), { timeout });
    const revision = v2.getNegotiatedProtocolVersion();
    if (revision !== MODERN_REVISION) throw new Error(`the 2.x client negotiated ${revision}, not ${MODERN_REVISION}`);
    // The listing gives each client the tools' output schemas, which they check every result against.
    await v1.listTools(undefined, { timeout });
    await v2.listTools(undefined, { timeout });
    return { v1, v2 };
  } catch (e) {
    await closeClients({ v1, v2 });
    throw e;
  }
}

async function closeClients(c: McpClients): Promise<void> {
  for (const client of [c.v1, c.v2]) await client.close().catch((e: Error) => console.error(`bench: closing an MCP client: ${e.message}`));
}

/**
 * The task: callToolStream creates it, polls tasks/get (at once, then every pollInterval the task
 * names) and fetches tasks/result once it is completed, as the 1.x SDK does for any host.
 */
async function taskToResult(v1: Client, timeout: number): Promise<TaskSample> {
  const sent = performance.now();
  let createdMs: number | undefined;
  let polls = 0;
  const stream = v1.experimental.tasks.callToolStream({ name: 'pythonExec', arguments: { code: PRINT_ONE.code } }, CallToolResultSchema, { task: {}, timeout });
  for await (const m of stream) {
    if (m.type === 'taskCreated') createdMs = performance.now() - sent;
    else if (m.type === 'taskStatus') polls++;
    else if (m.type === 'error') throw m.error;
    else if (m.type === 'result') {
      checkPrintOne(m.result, 'the task');
      if (createdMs === undefined) throw new Error('the task\'s result came without a created task');
      return { createdMs, polls, resultMs: performance.now() - sent };
    }
  }
  throw new Error('the task\'s stream ended without a result');
}

/** Records the four figures; a figure whose operation could not run carries why. */
function recordAll(ctx: PlatformContext, runs: Outcome<LatencyRun>[], task: Outcome<TaskSummary | undefined>): void {
  const specs: FigureSpec[] = [MCP_REST_P50, MCP_P50, MCP_TASK_P50, MCP_2026_P50];
  specs.forEach((spec, i) => {
    let m: Outcome<Measurement> = latencyMeasurement(runs[i], 'p50');
    if (spec === MCP_TASK_P50 && !failed(m) && !failed(task)) m = { ...m, details: { ...m.details, task } };
    addFigure(ctx, record(spec, m, ctx.byId));
  });
}

export async function measureMcp(ctx: PlatformContext): Promise<void> {
  const { settings: s, api } = ctx;
  const timeout = s.requestTimeoutMs;
  const clients = await attempt(() => connectClients(new URL(`${api.baseUrl}/mcp`), api.token, timeout));
  if (failed(clients)) {
    recordAll(ctx, [clients, clients, clients, clients], clients);
    return;
  }
  try {
    const { v1, v2 } = clients;
    // The task operation runs once a round until it gives up, so its n-th run is round n: warm-up rounds are left out by that.
    const tasks: { round: number; sample: TaskSample }[] = [];
    let taskRound = 0;
    const runs = await measureInterleaved([
      async () => { await api.pythonExec(PRINT_ONE.code, PRINT_ONE.expectedOutput); },
      async () => checkPrintOne(await v1.callTool({ name: 'pythonExec', arguments: { code: PRINT_ONE.code } }, CallToolResultSchema, { timeout }), 'tools/call (1.x)'),
      async () => {
        const round = taskRound++;
        tasks.push({ round, sample: await taskToResult(v1, timeout) });
      },
      async () => checkPrintOne(await v2.callTool({ name: 'pythonExec', arguments: { code: PRINT_ONE.code } }, { timeout }), `tools/call (2.x, ${MODERN_REVISION})`),
    ], { samples: s.mcpSamples, warmup: s.warmup });
    recordAll(ctx, runs, summarizeTasks(tasks.filter((t) => t.round >= s.warmup).map((t) => t.sample)));
  } finally {
    await closeClients(clients);
  }
}
