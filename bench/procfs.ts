// Processes and the machine's CPU time as Linux's /proc shows them: the bench reads memory and CPU
// time of the platform's processes from here, because they are not all its own children.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** The fields of /proc/<pid>/stat the bench uses; times in clock ticks. */
export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** When the process started (ticks after boot): with the pid, tells a reused pid from the old one. */
  starttime: number;
  utime: number;
  stime: number;
  /** CPU time of children this process waited for: a process tree's sum keeps its ended processes. */
  cutime: number;
  cstime: number;
}

/** Parses one /proc/<pid>/stat line; the name (field 2) may hold spaces and parentheses. */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(line.slice(0, 80))}`);
  // Fields from 3 (state) on; field n is rest[n - 3].
  const rest = line.slice(close + 2).split(' ');
  const field = (n: number) => Number(rest[n - 3]);
  return {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    starttime: field(22),
  };
}

/** All of a process's CPU time so far, its waited-for children's included (ticks). */
export function cpuTicks(p: ProcStat): number {
  return p.utime + p.stime + p.cutime + p.cstime;
}

/** Every process that could be read; one that ended while the list was read is left out. */
export function readProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      out.push(parseProcStat(readFileSync(`/proc/${entry}/stat`, 'utf8')));
    } catch {
      // ended in between
    }
  }
  return out;
}

/** A process and all its descendants among `procs` (empty if the process is not there). */
export function processTree(rootPid: number, procs: ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const root = procs.find((p) => p.pid === rootPid);
  if (!root) return [];
  const tree: ProcStat[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const p = pending.pop()!;
    tree.push(p);
    pending.push(...(children.get(p.pid) ?? []));
  }
  return tree;
}

/** The machine's CPU time from the `cpu` line of /proc/stat (ticks, all cores). */
export interface MachineTicks {
  /** user + nice + system + irq + softirq + steal: time some core spent working. */
  busy: number;
  /** busy + idle + iowait. */
  total: number;
}

/** Parses /proc/stat; guest time is already inside user and nice, so it is not added again. */
export function parseMachineTicks(procStat: string): MachineTicks {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no "cpu" line');
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  return { busy, total: busy + idle + (iowait ?? 0) };
}

export function readMachineTicks(): MachineTicks {
  return parseMachineTicks(readFileSync('/proc/stat', 'utf8'));
}

let clockTicks: number | undefined;

/** Clock ticks per second, the unit of /proc's CPU times (`getconf CLK_TCK`, 100 on most systems). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(n) || n <= 0) throw new Error(`getconf CLK_TCK answered ${JSON.stringify(n)}`);
    clockTicks = n;
  }
  return clockTicks;
}
