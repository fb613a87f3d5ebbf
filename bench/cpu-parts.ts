// What a throughput window cost in CPU, by part of the platform (spec §10), so the cost of a task is
// known by part: the bench process (the API and its control worker) from its own counters, the other
// processes from /proc, the sandboxes from their cgroup, the machine's busy time from /proc/stat, and
// whatever none of them explains as `other`, so nothing is hidden.
//
// A process tree's CPU time is the sum of utime+stime+cutime+cstime over its processes: a child that
// ends is waited for by its parent, whose cutime then holds it, so the difference of two such sums is
// the tree's time in between. Shims escape that: they daemonize, so nobody in the platform waits for
// them, and they wait for their container's first process, whose time the sandbox cgroup already
// counts. They are sampled while the window runs instead (see `shimTicks`).
import { dockerDaemonProcesses, isShim } from './docker-processes.js';
import { cpuTicks, processTree, type MachineTicks, type ProcStat } from './procfs.js';

/** Taken by the bench process when the window starts and when it ends. */
export interface WindowSnapshot {
  atMs: number;
  /** The bench process's own CPU time (user + system), µs. */
  benchProcessUs: number;
  processes: ProcStat[];
  machine: MachineTicks;
}

/** Taken by the watcher every ~250 ms while the window runs, at its start and its end included. */
export interface WindowSample {
  atMs: number;
  /** Every shim and its direct children (a container's first process, or a runc it runs). */
  shims: ProcStat[];
  /** The sandbox cgroup(s), CPU time so far in ms by cgroup; undefined when none was found. */
  sandboxesMs?: Record<string, number>;
}

/** Which process is which. */
export interface WindowRoles {
  temporalPid: number;
  workerPid: number;
  gatewayPid?: number;
  /** The process running the bench's clients (and the watcher): measured, but not the platform. */
  clientsPid: number;
}

export interface PartCost {
  part: string;
  /** CPU time in the window; undefined when the part could not be measured (see `error`). */
  cpuMs?: number;
  msPerTask?: number;
  /** Of the machine's busy time in the window. */
  share?: number;
  error?: string;
}

export interface CostByPart {
  windowSec: number;
  completed: number;
  clockTicksPerSec: number;
  sandboxSource: string;
  /** The platform's parts, in report order. */
  parts: PartCost[];
  /** The measured parts summed. */
  platform: PartCost;
  benchClients: PartCost;
  /** Machine busy time the parts do not explain (the kernel's own work, other processes). */
  other: PartCost;
  machine: PartCost & { busyPct: number };
}

/** What the window's cost is computed from. */
export interface CostInput {
  start: WindowSnapshot;
  end: WindowSnapshot;
  samples: WindowSample[];
  roles: WindowRoles;
  completed: number;
  windowSec: number;
  clockTicksPerSec: number;
  /** Where the sandboxes' time was read, or why it could not be. */
  sandboxSource: string | { error: string };
}

const sum = (procs: ProcStat[]) => procs.reduce((total, p) => total + cpuTicks(p), 0);

/** A tree's (or a closed group's) time between two process lists, in ticks. */
function groupDelta(start: ProcStat[], end: ProcStat[], select: (procs: ProcStat[]) => ProcStat[]): number | undefined {
  const before = select(start);
  const after = select(end);
  if (before.length === 0 && after.length === 0) return undefined;
  return sum(after) - sum(before);
}

const key = (p: ProcStat) => `${p.pid}@${p.starttime}`;

/**
 * The shims' own time in the window, in ticks: each shim's growth from its first sighting (from zero if
 * it started in the window), less the time of any container first process it waited for meanwhile
 * (which landed in its cutime but belongs to the sandbox). What runc costs stays in, as the shim waits
 * for it too. Time a shim spends after its last sighting, or a container process that starts and ends
 * between two samples, is missed: sampling often keeps both small.
 */
export function shimTicks(samples: ProcStat[][]): number {
  const shims = new Map<string, { first: number; last: number; lastSeen: number }>();
  const firstProcesses = new Map<string, { total: number; lastSeen: number; shim: string }>();
  samples.forEach((procs, i) => {
    const shimByPid = new Map<number, string>();
    for (const p of procs.filter(isShim)) {
      const k = key(p);
      shimByPid.set(p.pid, k);
      const known = shims.get(k);
      shims.set(k, { first: known ? known.first : i === 0 ? cpuTicks(p) : 0, last: cpuTicks(p), lastSeen: i });
    }
    for (const p of procs) {
      const shim = shimByPid.get(p.ppid);
      if (shim === undefined || isShim(p) || p.comm === 'runc') continue;
      firstProcesses.set(key(p), { total: cpuTicks(p), lastSeen: i, shim });
    }
  });
  let ticks = 0;
  for (const s of shims.values()) ticks += s.last - s.first;
  for (const f of firstProcesses.values()) {
    // Waited for while its shim was still watched: the shim's last reading holds its time.
    if (f.lastSeen < (shims.get(f.shim)?.lastSeen ?? -1)) ticks -= f.total;
  }
  return ticks;
}

/** Growth of counters that may appear (from zero) or vanish (their last reading counts) between samples. */
export function counterDelta(samples: Record<string, number>[]): number {
  const first = samples[0] ?? {};
  const last = new Map<string, number>();
  for (const s of samples) for (const [k, v] of Object.entries(s)) last.set(k, v);
  let delta = 0;
  for (const [k, v] of last) delta += v - (first[k] ?? 0);
  return delta;
}

export function costByPart(input: CostInput): CostByPart {
  const { start, end, roles, completed } = input;
  const toMs = (ticks: number) => (ticks * 1000) / input.clockTicksPerSec;
  const tree = (pid: number) => (procs: ProcStat[]) => processTree(pid, procs);
  const measured = (part: string, ms: number | undefined, missing: string): PartCost => (ms === undefined ? { part, error: missing } : { part, cpuMs: ms });
  const ticksOf = (select: (procs: ProcStat[]) => ProcStat[]) => {
    const d = groupDelta(start.processes, end.processes, select);
    return d === undefined ? undefined : toMs(d);
  };

  const daemons = groupDelta(start.processes, end.processes, dockerDaemonProcesses);
  const docker = daemons === undefined ? undefined : toMs(daemons + shimTicks(input.samples.map((s) => s.shims)));
  const sandboxSamples = input.samples.map((s) => s.sandboxesMs).filter((s): s is Record<string, number> => s !== undefined);
  const sandboxError = typeof input.sandboxSource === 'string' ? 'no sample of the sandbox cgroup' : input.sandboxSource.error;
  const parts: PartCost[] = [
    measured('temporal', ticksOf(tree(roles.temporalPid)), `process ${roles.temporalPid} not found`),
    { part: 'api', cpuMs: (end.benchProcessUs - start.benchProcessUs) / 1000 },
    ...(roles.gatewayPid === undefined ? [] : [measured('gateway', ticksOf(tree(roles.gatewayPid)), `process ${roles.gatewayPid} not found`)]),
    measured('runtime worker', ticksOf(tree(roles.workerPid)), `process ${roles.workerPid} not found`),
    measured('docker', docker, 'no dockerd or containerd process on this machine'),
    measured('database', ticksOf((procs) => procs.filter((p) => p.comm === 'postgres')), 'no postgres process on this machine'),
    measured('sandboxes', sandboxSamples.length > 0 ? counterDelta(sandboxSamples) : undefined, sandboxError),
  ];
  const machineMs = toMs(end.machine.busy - start.machine.busy);
  const busyPct = (100 * (end.machine.busy - start.machine.busy)) / Math.max(1, end.machine.total - start.machine.total);
  const platformMs = parts.reduce((total, p) => total + (p.cpuMs ?? 0), 0);
  const clientsMs = ticksOf(tree(roles.clientsPid)) ?? 0;
  const per = (p: PartCost): PartCost => (p.cpuMs === undefined ? p : { ...p, msPerTask: p.cpuMs / completed, share: machineMs > 0 ? p.cpuMs / machineMs : undefined });
  return {
    windowSec: input.windowSec,
    completed,
    clockTicksPerSec: input.clockTicksPerSec,
    sandboxSource: typeof input.sandboxSource === 'string' ? input.sandboxSource : `unavailable: ${input.sandboxSource.error}`,
    parts: parts.map(per),
    platform: per({ part: 'platform (the parts above)', cpuMs: platformMs }),
    benchClients: per({ part: 'bench clients (not the platform)', cpuMs: clientsMs }),
    other: per({ part: 'other', cpuMs: machineMs - platformMs - clientsMs }),
    machine: { ...per({ part: 'machine busy time', cpuMs: machineMs }), busyPct },
  };
}
