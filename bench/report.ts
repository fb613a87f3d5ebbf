// The run's record: a JSON file with everything, and a Markdown table for people.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../config/paths.js';
import type { BenchTables } from './context.js';
import type { Environment } from './environment.js';
import { comparisonText, formatNumber, type Figure } from './figures.js';
import { renderTables, TABLES_HOW_MEASURED } from './report-tables.js';
import type { BenchSettings } from './settings.js';

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  settings: BenchSettings & { workerEnv: Record<string, string> };
  environment?: Environment;
  figures: Figure[];
  tables: BenchTables;
  /** Errors outside any figure (platform start, clean-up). */
  runErrors: string[];
  passed: boolean;
}

export const RESULTS_DIR = join(repoRoot, 'bench', 'results');

export function writeReport(report: BenchReport, markdown: string): { json: string; md: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  // Colons are legal on Linux but awkward in shells and on other systems' file shares.
  const stem = report.startedAt.replace(/:/g, '-');
  const json = join(RESULTS_DIR, `${stem}.json`);
  const md = join(RESULTS_DIR, `${stem}.md`);
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(md, markdown);
  return { json, md };
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function valueCell(f: Figure): string {
  return f.value === undefined ? '—' : `${formatNumber(f.value)} ${f.unit}`;
}

function baselineCell(f: Figure, byId: Map<string, Figure>): string {
  if (!f.baseline) return '';
  const b = byId.get(f.baseline.id);
  return f.baseline.value === undefined ? `${f.baseline.id}: —` : `${f.baseline.id} = ${formatNumber(f.baseline.value)} ${b?.unit ?? ''}`.trim();
}

function resultCell(f: Figure): string {
  if (f.value === undefined) return '**ERROR**';
  if (f.pass === null) return f.error ? '**ERROR**' : 'measured';
  return f.pass ? 'PASS' : '**FAIL**';
}

/** How the number was obtained, in a few words; the JSON has the rest. */
function notesCell(f: Figure): string {
  const d = f.details as Record<string, any>;
  const parts: string[] = [];
  if (d.latency && d.clients === undefined) parts.push(`n=${d.latency.n}, p90 ${formatNumber(d.latency.p90)} ms, p99 ${formatNumber(d.latency.p99)} ms, max ${formatNumber(d.latency.max)} ms`);
  if (d.p99OverheadMs !== undefined) parts.push(`p50 ${formatNumber(d.zero.p50)} − ${formatNumber(d.interval.p50)} ms; p99 overhead ${formatNumber(d.p99OverheadMs)} ms`);
  if (d.p99DifferenceMs !== undefined) parts.push(`p50 ${formatNumber(d.proxy.p50)} − ${formatNumber(d.direct.p50)} ms; p99 ${formatNumber(d.proxy.p99)} − ${formatNumber(d.direct.p99)} = ${formatNumber(d.p99DifferenceMs)} ms`);
  if (d.task) parts.push(`task created after p50 ${formatNumber(d.task.createdMs.p50)} ms; tasks/get per task ${Object.entries(d.task.polls).map(([polls, n]) => `${polls} (×${n})`).join(', ')}, poll interval ${d.task.pollIntervalMs} ms`);
  if (d.clients !== undefined) parts.push(`${d.clients} clients × ${d.windowSec} s, ${d.completed} ok${d.latency ? `, latency p50 ${formatNumber(d.latency.p50)} ms` : ''}`);
  if (d.held !== undefined && f.unit === 'sessions') parts.push(`requested ${d.requested}, opened ${d.opened} in ${formatNumber(d.openSec)} s, lease ${d.leaseTtlSecRequested} s asked, ${d.minLeaseLeftSecAfterRun} s left at the end`);
  if (d.containerMiBPerSession !== undefined) parts.push(`containers ${formatNumber(d.containerMiBPerSession)} MiB + worker RSS ${formatNumber(d.workerRssMiBPerSession)} MiB per session; not counted: control plane Temporal ${formatNumber(d.controlPlane.temporalRssMiBPerSession)} MiB, API ${formatNumber(d.controlPlane.apiRssMiBPerSession)} MiB, Docker engine ${formatNumber(d.dockerEnginePssMiBPerSession)} MiB (PSS) per session`);
  if (Array.isArray(d.load)) parts.push(`load ${d.load.map((l: number) => l.toFixed(1)).join('→')}`);
  if (f.errors !== undefined) parts.push(`errors ${f.errors}`);
  if (Array.isArray(d.errorMessages) && d.errorMessages.length > 0) parts.push(`first error: ${d.errorMessages[0].message}`);
  if (Array.isArray(d.openErrors) && d.openErrors.length > 0) parts.push(`first open error: ${d.openErrors[0].message}`);
  if (f.error) parts.push(f.error);
  return parts.join('; ');
}

const HOW_MEASURED = [
  'How each number was taken:',
  '',
  "- `cold`: `docker run --rm --network none durabox/python:4 python3 -c 'print(1)'` through the docker CLI, one after another; throughput with the same clients in a closed loop, counting runs that printed `1` and ended inside the window.",
  '- `exec`: Docker API exec create + start + read output + inspect of `echo hi` in an already running `durabox/terminal:6` container.',
  '- platform figures: REST calls with a bearer token to an API started in the bench process (`PlatformHarness`), one runtime worker as a child process; pythonExec through `POST /tasks` mode `sync`, terminal commands through `POST /commands/terminal`; a call counts only with the expected output.',
  '- workbench: `port proxy` is a `GET` of a 3-byte file through `/sessions/:id/ports/8000/` (bearer token) from `python3 -m http.server` started in a live session; `port direct` the same `GET` straight to the same server in a container of the same image, profile and limits on the Docker bridge, by its address; both timed side by side, round by round, each request on a connection of its own (no keep-alive on either path: the server speaks HTTP/1.0). `pty keystroke echo`: one letter sent on the terminal\'s WebSocket of a live session until its echo comes back, then an untimed backspace erases it.',
  '- MCP: `POST /mcp` with the same bearer token, through the SDKs\' own clients connected once (tools listed, so each checks results against the output schemas): `mcp pythonExec` is `tools/call` through `@modelcontextprotocol/sdk` 1.x (`Client` + `StreamableHTTPClientTransport`, 2025-11-25); `mcp task pythonExec` the same call as a 2025-11-25 task through that client\'s `experimental.tasks.callToolStream` (tools/call with `task`, tasks/get at once and then every `pollInterval`, tasks/result), timed to its result; `mcp 2026 pythonExec` is `tools/call` through `@modelcontextprotocol/client` 2.x negotiating 2026-07-28. Each must answer `1\\n` as `structuredContent.output`. The three and REST\'s sync pythonExec are timed side by side, round by round.',
  '- memory per idle session: (change in the summed memory of the worker\'s containers, `docker stats` usage minus inactive file cache, + change in the worker\'s process-tree RSS) / sessions open; the control plane\'s change is in the notes, not in the figure.',
];

/** Other work on a small machine moves every number; say so when the load average shows it. */
function busyMachineWarning(report: BenchReport): string[] {
  const nproc = report.environment?.machine.nproc;
  const loads = report.figures.flatMap((f) => (Array.isArray(f.details.load) ? (f.details.load as number[]) : []));
  if (!nproc || loads.length === 0) return [];
  const peak = Math.max(...loads, ...(report.environment?.machine.loadAverageAtStart.slice(0, 1) ?? []));
  if (peak <= nproc) return [];
  return [`- **busy machine**: the 1-minute load average reached ${peak.toFixed(1)} on ${nproc} cores during the run; other work competed with the bench, so read the ratios with care`];
}

function tally(figures: Figure[]): string {
  const judged = figures.filter((f) => f.pass !== null || f.error);
  const passed = judged.filter((f) => f.pass === true).length;
  const errors = figures.filter((f) => f.value === undefined || f.error).length;
  return `${passed} of ${judged.length} targets met, ${errors} figure(s) with errors`;
}

export function renderMarkdown(report: BenchReport): string {
  const byId = new Map(report.figures.map((f) => [f.id, f]));
  const env = report.environment;
  const s = report.settings;
  const lines = [
    `# durabox bench ${report.startedAt}`,
    '',
    env
      ? [
        `- machine: ${env.machine.nproc} cores (${env.machine.cpuModel}), ${env.machine.memoryMiB} MiB, Linux ${env.machine.kernel}, Node ${env.machine.node}, load average at start ${env.machine.loadAverageAtStart.join(' ')}`,
        `- docker: ${env.docker.serverVersion ?? env.docker.error} (cgroup v${env.docker.cgroupVersion ?? '?'}, ${env.docker.storageDriver ?? '?'})`,
        `- temporal: ${env.temporal.kind}, ${env.temporal.cliVersion}, at ${env.temporal.address}`,
        `- database: ${env.database.version}, at ${env.database.server}`,
        `- revision: ${env.revision}`,
      ].join('\n')
      : '- environment: not recorded (the platform did not start)',
    `- settings: samples ${s.samples}, cold samples ${s.coldSamples}, MCP rounds ${s.mcpSamples}, new-session samples ${s.sessionSamples}, warm-up ${s.warmup}, ${s.clients} clients × ${s.throughputSec} s, scaling ${s.scalingClients.join('/')} clients × ${s.scalingSec} s, idle sessions ${s.sessionLevels.join(' then ')} (lease ${s.idleLeaseSec} s, held ${s.idleHoldSec} s, opened ${s.idleOpenConcurrency} at a time), settle ${s.settleSec} s, ${s.only ? `only ${s.only.join(', ')} (and their baselines), ` : ''}worker ${Object.entries(s.workerEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    ...busyMachineWarning(report),
    `- duration: ${Math.round(report.durationSec)} s; result: ${report.passed ? 'all targets met' : 'NOT all targets met'} (${tally(report.figures)})`,
    '',
    '| figure | value | baseline | ratio | target | result | notes |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...report.figures.map((f) => `| ${[
      f.title, valueCell(f), baselineCell(f, byId), comparisonText(f), f.target, resultCell(f), notesCell(f),
    ].map(cell).join(' | ')} |`),
  ];
  lines.push('', ...renderTables(report.tables, s), '', ...HOW_MEASURED, ...TABLES_HOW_MEASURED);
  if (report.runErrors.length > 0) lines.push('', '**Run errors**', '', ...report.runErrors.map((e) => `- ${cell(e)}`));
  return `${lines.join('\n')}\n`;
}
