// The security profile every sandbox container gets (spec §7), per runtime.
import type Docker from 'dockerode';
import type { RuntimeLimits } from '../config/index.js';
import type { CellResult } from '../contract/messages.js';

export const LABEL_MANAGED = 'io.durabox.managed';
export const LABEL_WORKER = 'io.durabox.worker';
export const LABEL_RUNTIME = 'io.durabox.runtime';

/** Writable paths; everything else is the read-only image. */
export const WRITABLE_PATHS = ['/tmp', '/workspace'];
export const SANDBOX_USER = '1000:1000';

export function sandboxLabels(workerId: string, runtime: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_WORKER]: workerId, [LABEL_RUNTIME]: runtime, ...extra };
}

/** Memory kept free of files: enough for `docker exec`, a shell and small programs when every path is full. */
export const FILES_HEADROOM_BYTES = 64 * 1024 * 1024;

/**
 * Size of each writable tmpfs: the configured size, cut so that all of them together (with /dev/shm) leave
 * FILES_HEADROOM_BYTES of the memory limit. Files in a tmpfs are charged to the container's memory and
 * cannot be swapped out: a full disk must be ENOSPC, never an out-of-memory kill of the container itself.
 */
export function writableTmpfsBytes(limits: RuntimeLimits): { each: number; shm: number } {
  const shm = Math.min(limits.tmpfsBytes, 16 * 1024 * 1024);
  const room = Math.max(limits.memoryBytes - shm - FILES_HEADROOM_BYTES, WRITABLE_PATHS.length * 1024 * 1024);
  return { each: Math.min(limits.tmpfsBytes, Math.floor(room / WRITABLE_PATHS.length)), shm };
}

export function hardenedHostConfig(limits: RuntimeLimits): Docker.HostConfig {
  const tmpfs = writableTmpfsBytes(limits);
  const tmpfsOpts = `rw,nosuid,nodev,size=${tmpfs.each},uid=1000,gid=1000,mode=0700`;
  return {
    NetworkMode: limits.network ? 'bridge' : 'none',
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: true,
    Tmpfs: Object.fromEntries(WRITABLE_PATHS.map((p) => [p, tmpfsOpts])),
    ShmSize: tmpfs.shm,
    Memory: limits.memoryBytes,
    MemorySwap: limits.memoryBytes, // equal to Memory: no swap
    NanoCpus: limits.nanoCpus,
    PidsLimit: limits.pidsLimit,
    Ulimits: [
      { Name: 'nofile', Soft: 1024, Hard: 1024 },
      { Name: 'core', Soft: 0, Hard: 0 },
    ],
    AutoRemove: true,
    // A sandbox's I/O is the frames on its attach stream. Docker's default log driver would also keep
    // every frame on the host's disk, in plain text and without limit: tenant data outside the sandbox.
    LogConfig: { Type: 'none', Config: {} },
  };
}

/** Temporal refuses payloads over 2 MB: a result's two output streams together stay under this, JSON-encoded. */
export const OUTPUT_PAYLOAD_BUDGET_BYTES = 1_800_000;

/**
 * Cuts stdout and stderr so that both, as JSON, fit OUTPUT_PAYLOAD_BUDGET_BYTES. The per-stream cap counts
 * raw bytes; as JSON a control character takes 6 bytes and an invalid byte (U+FFFD) 3, so capped output
 * can still be far too large. A stream under half the budget is kept whole; the other gets the rest.
 */
export function fitOutputToPayload(stdout: string, stderr: string, budget = OUTPUT_PAYLOAD_BUDGET_BYTES): { stdout: string; stderr: string; stdoutCut: boolean; stderrCut: boolean } {
  const size = (s: string) => Buffer.byteLength(JSON.stringify(s));
  const out = size(stdout);
  const err = size(stderr);
  if (out + err <= budget) return { stdout, stderr, stdoutCut: false, stderrCut: false };
  const half = budget / 2;
  const outRoom = out <= half ? out : err <= half ? budget - err : half;
  const errRoom = budget - Math.min(out, outRoom);
  const cut = (s: string, room: number): string => (size(s) <= room ? s : s.slice(0, jsonPrefixLength(s, room - 2)));
  const o = cut(stdout, outRoom);
  const e = cut(stderr, errRoom);
  return { stdout: o, stderr: e, stdoutCut: o.length < stdout.length, stderrCut: e.length < stderr.length };
}

/**
 * A cell's answer cut to fit one Temporal payload: rich results keep their order and are dropped from
 * the end when over their share; the printed output gets what is left, as for a command.
 */
export function fitCellToPayload(r: CellResult): CellResult {
  const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v));
  const resultsBudget = Math.floor(OUTPUT_PAYLOAD_BUDGET_BYTES * 0.7);
  let results = r.results;
  let resultsCut = r.results_truncated;
  while (results.length > 0 && size(results) > resultsBudget) {
    results = results.slice(0, -1);
    resultsCut = true;
  }
  const rest = OUTPUT_PAYLOAD_BUDGET_BYTES - size(results) - size(r.error ?? null);
  const stdout = r.logs.stdout.join('');
  const stderr = r.logs.stderr.join('');
  const fit = fitOutputToPayload(stdout, stderr, rest);
  return {
    ...r,
    results,
    results_truncated: resultsCut,
    // Chunks are kept as they arrived unless the output had to be cut.
    logs: { stdout: fit.stdoutCut ? [fit.stdout] : r.logs.stdout, stderr: fit.stderrCut ? [fit.stderr] : r.logs.stderr },
    stdout_truncated: r.stdout_truncated || fit.stdoutCut,
    stderr_truncated: r.stderr_truncated || fit.stderrCut,
  };
}

/** The longest prefix of `s` whose JSON string body (without quotes) takes at most `room` UTF-8 bytes. */
function jsonPrefixLength(s: string, room: number): number {
  let used = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const cost = c === 0x22 || c === 0x5c || c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2
      : c < 0x20 ? 6 : c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : c >= 0xd800 && c <= 0xdfff ? 6 : 3;
    if (used + cost > room) return i;
    used += cost;
    if (pair) i++;
  }
  return s.length;
}
