// The report's tables beside the figures: what the throughput window cost by part, how throughput and
// idle sessions scale, and how each was measured.
import type { BenchTables } from './context.js';
import type { CostByPart, PartCost } from './cpu-parts.js';
import { failed, formatNumber, type Outcome } from './figures.js';
import type { SessionLevel } from './idle-sessions.js';
import { PARTS, type PartsSummary } from './latency-parts.js';
import type { MeasuredWindow } from './load-child.js';
import type { RequestsPerTask } from './prometheus.js';
import type { ThroughputScaling } from './scaling.js';
import type { DurabilityKey, SessionActivities, ZeroLossRow } from './durability-figures.js';
import type { LatencySummary } from './stats.js';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const row = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
const num = (n: number | undefined, unit = '') => (n === undefined || !Number.isFinite(n) ? '—' : `${formatNumber(n)}${unit}`);
const pct = (share: number | undefined) => (share === undefined ? '—' : `${(share * 100).toFixed(1)}%`);

function partRow(p: PartCost, bold = false): string {
  const name = bold ? `**${p.part}**` : p.part;
  if (p.cpuMs === undefined) return row([name, `not measured: ${p.error ?? 'unknown'}`, '']);
  return row([name, num(p.msPerTask), pct(p.share)]);
}

function costTable(w: Outcome<MeasuredWindow> | undefined): string[] {
  if (w === undefined) return ['Not measured: the run stopped before the throughput window.'];
  if (failed(w)) return [`Not measured: ${w.error}`];
  const c: Outcome<CostByPart> = w.cost;
  const lines = failed(c)
    ? [`Not measured: ${c.error}`]
    : [
      `${c.completed} tasks completed in the window; CPU time from /proc (${c.clockTicksPerSec} ticks/s) and the bench process's own counters, sandboxes from ${c.sandboxSource}.`,
      '',
      '| part | CPU ms per task | share of machine busy time |',
      '| --- | --- | --- |',
      ...c.parts.map((p) => partRow(p)),
      partRow(c.platform, true),
      partRow(c.benchClients),
      partRow(c.other),
      row([`machine busy time (${c.machine.busyPct.toFixed(0)}% of all cores)`, num(c.machine.msPerTask), pct(c.machine.share)]),
    ];
  return [...lines, '', temporalLine(w.temporalRequests)];
}

function temporalLine(r: Outcome<RequestsPerTask>): string {
  if (failed(r)) return `Temporal requests per task: not measured: ${r.error}`;
  const ops = r.byOperation.map((o) => `${o.operation} ${o.perTask.toFixed(2)}`).join(', ');
  return `Temporal frontend requests per task: **${r.perTask.toFixed(2)}** (${r.total} in the window) — ${ops}. Long polls count when they are issued, so an idle poller adds a few.`;
}

function scalingTable(t: ThroughputScaling | undefined): string[] {
  if (!t) return ['Not measured: the run stopped before the scaling phase.'];
  return [
    '| clients | window | runs/s | latency p50 | latency p99 | errors | CPU ms per task (platform) | machine busy |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...t.rows.map((r) => row([
      String(r.clients),
      `${r.windowSec} s${r.reused ? ' (the throughput figure\'s window)' : ''}`,
      r.perSec === undefined ? `**ERROR** ${r.error ?? ''}` : num(r.perSec),
      num(r.p50Ms, ' ms'),
      num(r.p99Ms, ' ms'),
      r.errors === undefined ? '—' : String(r.errors),
      r.cpuMsPerTask === undefined ? (r.error && r.perSec !== undefined ? r.error : '—') : num(r.cpuMsPerTask),
      r.machineBusyPct === undefined ? '—' : `${r.machineBusyPct.toFixed(0)}%`,
    ])),
    '',
    `Knee: ${t.knee.text}.`,
  ];
}

function sessionsTable(levels: SessionLevel[] | undefined): string[] {
  if (!levels || levels.length === 0) return ['Not measured: no session level was reached.'];
  return [
    '| sessions asked | open | held | opening took | memory per idle session | worker RSS | Temporal RSS | API RSS | Docker engine PSS (shims) | terminal echo hi p50 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...levels.map((l) => row([
      String(l.level),
      String(l.opened),
      String(l.held),
      `${formatNumber(l.openSec)} s for ${l.openedNow}`,
      num(l.memoryPerSessionMiB, ' MiB'),
      num(l.workerRssMiB, ' MiB'),
      num(l.temporalRssMiB, ' MiB'),
      num(l.apiRssMiB, ' MiB'),
      `${num(l.dockerEnginePssMiB, ' MiB')} (${l.memory.shims})`,
      l.terminalP50Ms === undefined ? `**ERROR** ${l.terminalError ?? ''}` : num(l.terminalP50Ms, ' ms'),
    ])),
  ];
}

function latencyTable(parts: BenchTables['latencyParts']): string[] {
  const python = parts?.python;
  const floor = parts?.floor;
  if (!python || failed(python)) return [`Not measured: ${python ? python.error : 'the run stopped before the pythonExec latency phase'}`];
  const f = floor && !failed(floor) ? floor : undefined;
  const at = (s: PartsSummary | undefined, i: number) => s?.p50Ms[i]?.ms;
  return [
    `Medians over ${python.runs} pythonExec tasks${python.skipped ? ` (${python.skipped} of another history shape left out)` : ''} and ${f ? `${f.runs} floor workflows` : `no floor (${floor && failed(floor) ? floor.error : 'not measured'})`}; each part is the time between two events of the workflow's history (or the client's send and answer).`,
    '',
    '| part | pythonExec p50 | floor p50 | durabox\'s own |',
    '| --- | --- | --- | --- |',
    ...PARTS.map(({ part }, i) => {
      const own = f ? (at(python, i) ?? 0) - (at(f, i) ?? 0) : undefined;
      return row([part, num(at(python, i), ' ms'), num(at(f, i), ' ms'), own === undefined ? '—' : num(own, ' ms')]);
    }),
    row(['**whole call (median)**', num(python.totalP50Ms, ' ms'), num(f?.totalP50Ms, ' ms'), f ? num(python.totalP50Ms - f.totalP50Ms, ' ms') : '—']),
  ];
}

const DURABILITY_COLUMNS: { key: DurabilityKey; title: string }[] = [
  { key: 'off', title: 'checkpoints off' },
  { key: 'interval', title: 'durability interval' },
  { key: 'zero', title: 'durability zero' },
];

const summaryOf = (o: Outcome<LatencySummary> | undefined) => (o && !failed(o) ? o : undefined);

/** `a − b` of one percentile, when both were measured. */
function difference(a: Outcome<LatencySummary> | undefined, b: Outcome<LatencySummary> | undefined, pick: 'p50' | 'p99'): number | undefined {
  const x = summaryOf(a);
  const y = summaryOf(b);
  return x && y ? x[pick] - y[pick] : undefined;
}

const signed = (n: number | undefined) => (n === undefined ? '—' : `${n >= 0 ? '+' : ''}${formatNumber(n)} ms`);

/** `echo x >> f` by durability setting, one row per workspace, and the overhead of zero loss in one line. */
export function zeroLossTable(rows: ZeroLossRow[] | undefined): string[] {
  if (!rows || rows.length === 0) return ['Not measured: the run stopped before the zero-loss phase.'];
  const latency = (o: Outcome<LatencySummary>) => (failed(o) ? `**ERROR** ${o.error}` : `${num(o.p50, ' ms')} / ${num(o.p99, ' ms')}`);
  const overhead = (r: ZeroLossRow, base: DurabilityKey) => `${r.workspace} ${signed(difference(r.runs.zero, r.runs[base], 'p50'))} (p99 ${signed(difference(r.runs.zero, r.runs[base], 'p99'))})`;
  return [
    '| workspace | ' + DURABILITY_COLUMNS.map((c) => `${c.title} p50 / p99`).join(' | ') + ' | zero − interval p50 | zero − off p50 |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => row([
      r.workspace,
      ...DURABILITY_COLUMNS.map((c) => latency(r.runs[c.key])),
      signed(difference(r.runs.zero, r.runs.interval, 'p50')),
      signed(difference(r.runs.zero, r.runs.off, 'p50')),
    ])),
    '',
    `**Overhead of zero loss** (durability zero minus interval, p50): ${rows.map((r) => overhead(r, 'interval')).join('; ')}. Over checkpoints off: ${rows.map((r) => overhead(r, 'off')).join('; ')}.`,
    ...activitiesTable(rows),
  ];
}

/** What each session's workflow had its host do: the sign that each API process ran the setting it was given. */
function activitiesTable(rows: ZeroLossRow[]): string[] {
  const measured = rows.filter((r) => r.activities);
  if (measured.length === 0) return [];
  const tally = (o: Outcome<SessionActivities>) => (failed(o)
    ? [`**ERROR** ${o.error}`, '']
    : [String(o.commands), Object.entries(o.byType).sort(([a], [b]) => a.localeCompare(b)).map(([type, n]) => `${type} ${n}`).join(', ') || 'none']);
  return [
    '',
    'Activities each session\'s workflow (its latest run) had its host run, beside the commands it answered (set-up, warm-up and timed appends, line count):',
    '',
    '| workspace | setting | commands | activities scheduled |',
    '| --- | --- | --- | --- |',
    ...measured.flatMap((r) => DURABILITY_COLUMNS.map((c) => row([r.workspace, c.title, ...tally(r.activities![c.key])]))),
  ];
}

/**
 * The report's tables. A run of a few figures (BENCH_ONLY) leaves out the tables it did not measure;
 * a full run says why one is missing.
 */
export function renderTables(t: BenchTables, o: { clients: number; throughputSec: number; only?: string[] }): string[] {
  const sections: { measured: boolean; lines: () => string[] }[] = [
    { measured: t.latencyParts?.python !== undefined, lines: () => ['## Where one pythonExec spends its time (one client)', '', ...latencyTable(t.latencyParts)] },
    { measured: t.pythonWindow !== undefined, lines: () => [`## Cost by part (pythonExec throughput, ${o.clients} clients × ${o.throughputSec} s)`, '', ...costTable(t.pythonWindow)] },
    {
      measured: t.throughputScaling !== undefined || t.sessionLevels !== undefined,
      lines: () => ['## Scaling', '', '### pythonExec throughput by clients', '', ...scalingTable(t.throughputScaling), '', '### Idle sessions on one host', '', ...sessionsTable(t.sessionLevels)],
    },
    { measured: t.zeroLoss !== undefined, lines: () => ['## Zero loss of acknowledged work: `echo x >> f` on a live session', '', ...zeroLossTable(t.zeroLoss)] },
  ];
  const shown = sections.filter((s) => s.measured || !o.only);
  return shown.flatMap((s, i) => [...(i > 0 ? [''] : []), ...s.lines()]);
}

export const TABLES_HOW_MEASURED = [
  '- latency by part: every timed pythonExec of the one-client figure answers its task id, which is its workflow id; the bench reads each workflow\'s history and takes the time between its events (start, the first workflow task\'s completion, the activity\'s start and completion, the second workflow task\'s completion) and the client\'s own send and answer times (one clock: everything runs on this machine). The floor is the same loop on a bare workflow (`bench/floor-workflow.ts`) run by a worker of the same SDK on the same dev server, with eager start, whose one no-op activity runs on a second worker with a connection of its own, as a runtime worker is: what Temporal and the Node SDK cost with no durabox code at all.',
  '- cost by part: the throughput clients run in a child process, which says when the timed window starts and ends; at those two instants the bench reads every counter. `temporal`, `runtime worker`, `gateway`: the process tree\'s utime+stime+cutime+cstime from /proc (an ended child\'s time stays in its parent\'s cutime); `api`: the bench process\'s own CPU time (the API and its control worker; nothing else runs there during the window); `docker`: dockerd and containerd as a tree, plus every containerd-shim sampled every 250 ms from its first sighting (from zero when new), less the container first processes it waited for (their time is the sandboxes\'); `database`: all `postgres` processes; `sandboxes`: the containers\' cgroup CPU time; `machine busy time`: /proc/stat user+nice+system+irq+softirq+steal; `other` = machine − platform − bench clients (the kernel\'s own work, anything else on the machine). Per task = divided by the tasks completed inside the window.',
  '- Temporal requests: the dev server\'s Prometheus counter `service_requests` of the frontend in the platform\'s namespace, scraped at the window\'s start and end, by operation.',
  '- scaling: the same pythonExec window at each client count (each with its per-client warm-up); CPU per task is the platform\'s parts summed as above, machine busy the share of all cores\' time. The knee is the client count after which throughput grows less than 10% while p50 grows.',
  '- zero loss: `echo x >> f` timed on three live sessions side by side, round by round (each round in a turned order, so a passing load falls on all three alike), each session started through an API process of its own with its durability setting (`DURABOX_SESSION_DURABILITY=zero`, `interval` with `DURABOX_SESSION_CHECKPOINT_SEC=10`, or `DURABOX_SESSION_CHECKPOINT_SEC=0`: off) on the platform\'s database and Temporal; afterwards each session\'s `f` must hold one line per answered append. The large workspace is 10,000 empty files made by the session\'s first, untimed command.',
  '- fork: one live source session with a small workspace (2,000 lines and a note). `fork p50`: each sample is one `POST /commands/terminal {fork_from, command: cat note.txt}` (the chain copied in the database, a container on any host restored from it, the command run there in the same step); `fork then command p50`: `POST /sessions/:id/fork` (answered once the fork runs), then `cat note.txt` in the fork. The command must print `hi`; each fork is deleted after its clock stops (`BENCH_SESSION_SAMPLES` samples each).',
  '- idle sessions by level: sessions opened with a long lease up to each level in turn, held for BENCH_IDLE_HOLD_SEC, then memory read (same formula as the figure, from before the first level), every session checked with a command (held), and 20 `echo hi` timed on one held session. The Docker engine\'s memory (dockerd, containerd and one shim per container; proportional set size, so the shims\' shared binary counts once) is not in the figure\'s formula.',
];
