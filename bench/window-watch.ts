// Samples, every ~250 ms of a throughput window, what a before/after pair cannot catch: the shims, which
// come and go with their containers and whose time nobody in the platform waits for, and the sandbox
// cgroups where each container's goes with it (see cpu-parts.ts).
import { isShim } from './docker-processes.js';
import { readProcesses } from './procfs.js';
import type { WindowSample } from './cpu-parts.js';
import type { SandboxCpuSource } from './sandbox-cpu.js';

export const WATCH_INTERVAL_MS = 250;

function sample(sandboxes: SandboxCpuSource | undefined): WindowSample {
  const procs = readProcesses();
  const shimPids = new Set(procs.filter(isShim).map((p) => p.pid));
  return {
    atMs: Date.now(),
    shims: procs.filter((p) => shimPids.has(p.pid) || shimPids.has(p.ppid)),
    sandboxesMs: sandboxes?.read(),
  };
}

/** Takes a sample now and then every interval; `stop` takes the last one and answers them all. */
export function watchWindow(sandboxes: SandboxCpuSource | undefined): { stop(): WindowSample[] } {
  const samples = [sample(sandboxes)];
  const timer = setInterval(() => samples.push(sample(sandboxes)), WATCH_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      samples.push(sample(sandboxes));
      return samples;
    },
  };
}
