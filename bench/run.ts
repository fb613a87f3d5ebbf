// `npm run bench`: starts a throw-away platform (Temporal dev server, PostgreSQL database, API,
// one runtime worker), measures every figure of spec §10 beside its Docker baselines in the same run,
// writes bench/results/<timestamp>.{json,md}, prints the table, and exits non-zero unless every
// figure was measured and met its target.
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN, freePort, HASH_KEY, PlatformHarness, type ApiProcess } from '../harness/platform.js';
import { keyedHash } from '../control/security.js';
import { DuraboxApi } from './api-client.js';
import { measureColdBaseline, measureExecBaseline } from './baseline-figures.js';
import { removeBenchContainers } from './bench-containers.js';
import {
  ALL_FIGURES, CODE_CONTEXT_P50, CODE_ONESHOT_P50, COLD_P50, COLD_P99, COLD_THROUGHPUT, EXEC_P50, FIRST_CHUNK_P50, FLOOR_P50,
  FORK_P50, FORK_THEN_COMMAND_P50, IDLE_SESSION_MEMORY, MCP_2026_P50, MCP_P50, MCP_REST_P50, MCP_TASK_P50, PORT_DIRECT_P50, PORT_PROXY_OVERHEAD, PORT_PROXY_P50, PTY_ECHO_P50, PTY_ECHO_P99, IDLE_SESSIONS_HELD, NEW_SESSION_P50, PYTHON_P50, PYTHON_P99, PYTHON_THROUGHPUT, RESUME_LARGE_P50, RESUME_P50, TERMINAL_P50,
} from './catalog.js';
import { addFigure, type BenchContext, type PlatformContext } from './context.js';
import { record } from './figures.js';
import { describeEnvironment, type Environment } from './environment.js';
import { measureRunCode } from './code-figures.js';
import { measureZeroLoss, ZERO_LOSS_FIGURES } from './durability-figures.js';
import { measureIdleSessions } from './idle-sessions.js';
import { measureMcp } from './mcp-figures.js';
import { measurePythonExec, measureTemporalFloor } from './python-figures.js';
import { startTemporalFloor, type TemporalFloor } from './temporal-floor.js';
import { measureThroughputScaling } from './scaling.js';
import { renderMarkdown, writeReport, type BenchReport } from './report.js';
import { figuresOwed, phasesToRun, type Phase } from './selection.js';
import { readBenchSettings } from './settings.js';
import { measureFork, measureLiveSession, measureNewSession, measurePausedResume } from './terminal-figures.js';
import { measurePortProxy, measurePtyEcho } from './workbench-figures.js';

const WORKER_NAME = 'bench';

async function main(): Promise<number> {
  const settings = readBenchSettings();
  const owed = figuresOwed(settings.only, ALL_FIGURES);
  const startedAt = new Date();
  const platform = new PlatformHarness();
  const ctx: BenchContext = { settings, docker: platform.docker, runTag: platform.runTag, figures: [], byId: new Map(), tables: {} };
  // The bench measures a host, not a limit: its one account, and its one host, may hold every idle session.
  const sessionLimit = String(settings.sessionLevels[settings.sessionLevels.length - 1] + 100);
  const workerEnv = { DURABOX_RUNTIMES: 'python,terminal', DURABOX_MAX_INFLIGHT: String(settings.maxInflight), DURABOX_HOST_MAX_SESSIONS: sessionLimit };
  const runErrors: string[] = [];
  let environment: Environment | undefined;

  let cleaning: Promise<void> | undefined;
  let floor: TemporalFloor | undefined;
  const apiProcesses = new Set<ApiProcess>();
  const cleanUp = () => (cleaning ??= (async () => {
    for (const p of apiProcesses) await p.stop().catch((e: Error) => { runErrors.push(`stopping an API process: ${e.message}`); });
    await floor?.stop().catch((e: Error) => { runErrors.push(`stopping the floor's workers: ${e.message}`); });
    await platform.stop().catch((e: Error) => { runErrors.push(`stopping the platform: ${e.message}`); });
    await removeBenchContainers(platform.docker, platform.runTag).catch((e: Error) => { runErrors.push(`removing bench containers: ${e.message}`); });
  })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`bench: ${signal}, cleaning up…`);
      void cleanUp().finally(() => process.exit(130));
    });
  }

  try {
    console.error('bench: starting Temporal dev server, database, API and a runtime worker…');
    // The product's own defaults, not the tests' short leases and timeouts.
    await platform.start({
      checkResponses: false,
      settings: {
        DURABOX_ACTIVITY_HEARTBEAT_TIMEOUT_MS: '10000',
        DURABOX_SESSION_LEASE_MIN_SEC: '60',
        DURABOX_SESSION_LEASE_DEFAULT_SEC: '60',
        DURABOX_SESSION_LEASE_MAX_SEC: '1800',
        DURABOX_SESSION_HOST_TIMEOUT_MS: '5000',
        DURABOX_SESSION_COMMANDS_PER_RUN: '500',
        // Sessions never pause on their own in the bench (idle levels hold live containers); the resume
        // figure gives its own sessions a short pause.
        DURABOX_SESSION_PAUSE_AFTER_SEC: '0',
        DURABOX_ACCOUNT_MAX_SESSIONS: sessionLimit,
      },
    });
    environment = await describeEnvironment({ docker: platform.docker, temporalAddress: platform.devServer.address, databaseUrl: platform.database!.url! });
    const worker = await platform.startWorker(WORKER_NAME, workerEnv);
    const api = await DuraboxApi.connect(platform.url, ADMIN, settings.requestTimeoutMs);
    const account = await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, api.token));
    if (!account) throw new Error('the bench\'s token belongs to no account');
    floor = await startTemporalFloor(platform.devServer.address, platform.config.temporal.namespace);
    const pctx: PlatformContext = {
      ...ctx,
      floor,
      api,
      worker: { id: worker.id, pid: worker.child.pid! },
      temporalPid: platform.devServer.process.pid!,
      temporalMetricsUrl: platform.devServer.metricsUrl,
      temporalNamespace: platform.config.temporal.namespace,
      gatewayPid: platform.gateway?.child.pid,
      setPauseAfterSec: (sec) => { platform.api.deps.api.session.pauseAfterSec = sec; },
      startApi: async (env) => {
        const p = await platform.startApiProcess(`127.0.0.1:${await freePort()}`, env);
        apiProcesses.add(p);
        return { url: p.url, output: p.output, stop: async () => { await p.stop(); apiProcesses.delete(p); } };
      },
      sessionWorkflowId: (sessionId) => platform.api.deps.sessions.workflowId(account.id, sessionId),
    };

    // Each phase names the figures it records, so BENCH_ONLY runs only the phases it needs.
    const phases: Phase[] = [
      { figures: [COLD_P50, COLD_P99, COLD_THROUGHPUT], run: () => measureColdBaseline(ctx) },
      { figures: [EXEC_P50], run: () => measureExecBaseline(ctx) },
      { figures: [FLOOR_P50], run: () => measureTemporalFloor(pctx) },
      { figures: [PYTHON_P50, PYTHON_P99, PYTHON_THROUGHPUT], run: () => measurePythonExec(pctx) },
      { figures: [], run: () => measureThroughputScaling(pctx) },
      { figures: [TERMINAL_P50], run: () => measureLiveSession(pctx) },
      { figures: [NEW_SESSION_P50], run: () => measureNewSession(pctx) },
      { figures: [RESUME_P50, RESUME_LARGE_P50], run: () => measurePausedResume(pctx) },
      { figures: [FORK_P50, FORK_THEN_COMMAND_P50], run: () => measureFork(pctx) },
      { figures: [CODE_CONTEXT_P50, CODE_ONESHOT_P50, FIRST_CHUNK_P50], run: () => measureRunCode(pctx) },
      { figures: ZERO_LOSS_FIGURES, run: () => measureZeroLoss(pctx) },
      { figures: [PORT_DIRECT_P50, PORT_PROXY_P50, PORT_PROXY_OVERHEAD], run: () => measurePortProxy(pctx) },
      { figures: [PTY_ECHO_P50, PTY_ECHO_P99], run: () => measurePtyEcho(pctx) },
      { figures: [MCP_REST_P50, MCP_P50, MCP_TASK_P50, MCP_2026_P50], run: () => measureMcp(pctx) },
      { figures: [IDLE_SESSIONS_HELD, IDLE_SESSION_MEMORY], run: () => measureIdleSessions(pctx) },
    ];
    for (const phase of phasesToRun(phases, owed, settings.only)) {
      await phase.run();
      await sleep(settings.settleSec * 1000);
    }

    if (worker.child.exitCode !== null || worker.child.signalCode !== null) {
      runErrors.push(`the runtime worker exited during the run (${worker.child.exitCode ?? worker.child.signalCode}): ${worker.output().slice(-2000)}`);
    }
  } catch (err) {
    runErrors.push(err instanceof Error ? err.message : String(err));
  } finally {
    console.error('bench: stopping the platform…');
    await cleanUp();
  }

  for (const spec of owed) {
    if (!ctx.byId.has(spec.id)) addFigure(ctx, record(spec, { error: `not measured: ${runErrors[0] ?? 'the run stopped early'}` }, ctx.byId));
  }
  ctx.figures.sort((a, b) => ALL_FIGURES.findIndex((s) => s.id === a.id) - ALL_FIGURES.findIndex((s) => s.id === b.id));

  const finishedAt = new Date();
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSec: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    settings: { ...settings, workerEnv },
    environment,
    figures: ctx.figures,
    tables: ctx.tables,
    runErrors,
    passed: runErrors.length === 0 && ctx.figures.length > 0 && ctx.figures.every((f) => f.pass !== false && !f.error),
  };
  const markdown = renderMarkdown(report);
  const files = writeReport(report, markdown);
  process.stdout.write(markdown);
  console.error(`bench: wrote ${files.json} and ${files.md}`);
  return report.passed ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
