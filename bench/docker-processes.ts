// The Docker engine's own processes, as /proc shows them: dockerd and containerd (with whatever they
// start and wait for), and a containerd-shim per container, which daemonizes and so is in no tree of theirs.
import { processTree, type ProcStat } from './procfs.js';

const DAEMONS = new Set(['dockerd', 'containerd']);

/** `containerd-shim-runc-v2`, as the kernel's 15-character command name keeps it. */
export function isShim(p: ProcStat): boolean {
  return p.comm.startsWith('containerd-shim');
}

/** dockerd and containerd with their descendants, shims (and what runs under them) left out. */
export function dockerDaemonProcesses(procs: ProcStat[]): ProcStat[] {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const roots = procs.filter((p) => DAEMONS.has(p.comm) && !DAEMONS.has(byPid.get(p.ppid)?.comm ?? ''));
  const shimTrees = new Set(procs.filter(isShim).flatMap((s) => processTree(s.pid, procs)).map((p) => p.pid));
  return roots.flatMap((r) => processTree(r.pid, procs)).filter((p) => !shimTrees.has(p.pid));
}
