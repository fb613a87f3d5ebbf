// CPU time of the sandboxes themselves: the cgroup Docker puts containers under. With cgroup v1 (and
// v2 with the cgroupfs driver) one parent cgroup holds every container and keeps the time of removed
// ones; with the systemd driver each container is a scope of its own that goes with it, so scopes are
// read one by one and a watcher samples them while they live.
import { existsSync, readFileSync, readdirSync } from 'node:fs';

export interface SandboxCpuSource {
  /** The file(s) read, for the report. */
  source: string;
  /** CPU time so far, ms, by cgroup: one key when the parent cgroup keeps removed containers' time. */
  read(): Record<string, number>;
}

const V1_USAGE = ['/sys/fs/cgroup/cpuacct/docker/cpuacct.usage', '/sys/fs/cgroup/cpu,cpuacct/docker/cpuacct.usage'];
const V2_PARENT = '/sys/fs/cgroup/docker/cpu.stat';
const V2_SLICE = '/sys/fs/cgroup/system.slice';

/** `usage_usec` of a cgroup v2 cpu.stat, in ms. */
export function parseCpuStatUsageMs(text: string): number {
  const m = /^usage_usec (\d+)$/m.exec(text);
  if (!m) throw new Error('cpu.stat has no usage_usec line');
  return Number(m[1]) / 1000;
}

/** Where this machine keeps the containers' CPU time; throws when none of the known places exists. */
export function locateSandboxCpu(): SandboxCpuSource {
  const v1 = V1_USAGE.find((f) => existsSync(f));
  if (v1) return { source: v1, read: () => ({ docker: Number(readFileSync(v1, 'utf8').trim()) / 1e6 }) };
  if (existsSync(V2_PARENT)) return { source: V2_PARENT, read: () => ({ docker: parseCpuStatUsageMs(readFileSync(V2_PARENT, 'utf8')) }) };
  if (existsSync(V2_SLICE) && existsSync(`${V2_SLICE}/cgroup.controllers`)) {
    return {
      source: `${V2_SLICE}/docker-*.scope/cpu.stat`,
      read: () => {
        const out: Record<string, number> = {};
        for (const scope of readdirSync(V2_SLICE).filter((d) => /^docker-.*\.scope$/.test(d))) {
          try {
            out[scope] = parseCpuStatUsageMs(readFileSync(`${V2_SLICE}/${scope}/cpu.stat`, 'utf8'));
          } catch {
            // removed in between
          }
        }
        return out;
      },
    };
  }
  throw new Error(`no Docker cgroup found (looked for ${[...V1_USAGE, V2_PARENT, `${V2_SLICE}/docker-*.scope`].join(', ')})`);
}
