// Memory as an operator would read it: each container's usage as `docker stats` shows it (without
// the reclaimable page cache), the resident memory of a process with all its descendants, and the
// Docker engine's, whose per-container shims are part of what a session costs.
import { readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { dockerDaemonProcesses, isShim } from './docker-processes.js';
import { forEachLimited } from './load.js';
import { processTree, readProcesses } from './procfs.js';

export interface ContainersMemory {
  containers: number;
  bytes: number;
  /** Containers whose stats could not be read (gone in between, or the daemon refused). */
  unreadable: number;
}

/** Sums the memory of every running container with all of the given labels (`key=value`). */
export async function containersMemory(docker: Docker, labels: string[]): Promise<ContainersMemory> {
  const list = await docker.listContainers({ filters: { label: labels, status: ['running'] } });
  // The daemon answers stats requests on its 1 s collection tick, so ask for many at once.
  const results = await forEachLimited(list, 64, async (c) => {
    // one-shot: a single sample instead of waiting for a second one to compute CPU rates (API 1.41+).
    const stats = (await docker.getContainer(c.Id).stats({ stream: false, 'one-shot': true } as { stream: false })) as unknown as DockerStats;
    return usageWithoutCache(stats);
  });
  let bytes = 0;
  let unreadable = 0;
  for (const r of results) {
    if (r.status === 'fulfilled' && r.value !== undefined) bytes += r.value;
    else unreadable++;
  }
  return { containers: list.length, bytes, unreadable };
}

interface DockerStats {
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

/** The docker CLI's formula: usage minus inactive file cache (cgroup v1 `total_inactive_file`, v2 `inactive_file`). */
function usageWithoutCache(s: DockerStats): number | undefined {
  const usage = s.memory_stats?.usage;
  if (usage === undefined) return undefined;
  const st = s.memory_stats?.stats ?? {};
  const cache = st.total_inactive_file ?? st.inactive_file ?? 0;
  return usage > cache ? usage - cache : usage;
}

/** RSS of a process and all its descendants, from /proc (Linux). */
export function processTreeRssBytes(rootPid: number): number {
  return processTree(rootPid, readProcesses()).reduce((sum, p) => sum + readRssBytes(p.pid), 0);
}

/**
 * Memory of the Docker engine: dockerd, containerd and every container's shim (each session has one).
 * Proportional set size, not RSS: a thousand shims share one binary, which RSS would count a thousand times.
 */
export function dockerEnginePss(): { bytes: number; shims: number } {
  const procs = readProcesses();
  const engine = [...dockerDaemonProcesses(procs), ...procs.filter(isShim)];
  return { bytes: engine.reduce((sum, p) => sum + readPssBytes(p.pid), 0), shims: procs.filter(isShim).length };
}

function readPssBytes(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function readRssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
