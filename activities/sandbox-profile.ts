// The security profile every sandbox container gets (spec §7), per runtime.
import type Docker from 'dockerode';
import type { RuntimeLimits } from '../workers/config.js';

export const LABEL_MANAGED = 'io.durabox.managed';
export const LABEL_WORKER = 'io.durabox.worker';
export const LABEL_RUNTIME = 'io.durabox.runtime';
export const LABEL_SESSION = 'io.durabox.session';

/** Writable paths; everything else is the read-only image. */
export const WRITABLE_PATHS = ['/tmp', '/workspace'];
export const SANDBOX_USER = '1000:1000';

export function sandboxLabels(workerId: string, runtime: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_WORKER]: workerId, [LABEL_RUNTIME]: runtime, ...extra };
}

export function hardenedHostConfig(limits: RuntimeLimits): Docker.HostConfig {
  const tmpfsOpts = `rw,nosuid,nodev,size=${limits.tmpfsBytes},uid=1000,gid=1000,mode=0700`;
  return {
    NetworkMode: limits.network ? 'bridge' : 'none',
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: true,
    Tmpfs: Object.fromEntries(WRITABLE_PATHS.map((p) => [p, tmpfsOpts])),
    ShmSize: Math.min(limits.tmpfsBytes, 16 * 1024 * 1024),
    Memory: limits.memoryBytes,
    MemorySwap: limits.memoryBytes, // equal to Memory: no swap
    NanoCpus: limits.nanoCpus,
    PidsLimit: limits.pidsLimit,
    Ulimits: [
      { Name: 'nofile', Soft: 1024, Hard: 1024 },
      { Name: 'core', Soft: 0, Hard: 0 },
    ],
    AutoRemove: true,
  };
}
