// Memory as an operator would read it: each container's usage as `docker stats` shows it (without
// the reclaimable page cache), and the resident memory of a process with all its descendants.
import { readFileSync, readdirSync } from 'node:fs';
import type Docker from 'dockerode';
import { forEachLimited } from './load.js';

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
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = readPpid(Number(entry));
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  let total = 0;
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    total += readRssBytes(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}

function readPpid(pid: number): number | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses; fields after the last ')' are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
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
