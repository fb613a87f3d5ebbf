// A session's /workspace in and out of its container as a tar, run as the sandbox user through `docker
// exec` (the workspace is a tmpfs: Docker's archive API does not see into it). The host checkpoints a
// workspace by its digest, so a command that changed nothing costs no upload, and restores one into a
// fresh container when its session moves here. A stored checkpoint is hostile input (a host or the
// session's own user may have made it): it is inflated only up to a bound, and unpacked by the rules of
// workspace-restore.py (docs/security/checkpoints.md).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import type Docker from 'dockerode';
import { sandboxProgramsDir } from '../config/paths.js';
import { SANDBOX_USER } from './profile.js';
import { CappedSink, dockerExec, dockerExecStream } from './docker-exec.js';
import { CheckpointTooLarge, DigestMismatch, IncompleteTar, TarMeter } from './checkpoint-stream.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

/** The longest a tar in or out of a container may take. */
const TAR_WAIT_MS = 120_000;

export interface WorkspaceTar { tar: Buffer; digest: string }

/** The sha256 of an uncompressed tar: equal digests, equal workspaces (names, modes, times, contents). */
export const digestOf = (tar: Buffer): string => createHash('sha256').update(tar).digest('hex');

/**
 * The workspace as a tar, or `too_large` when it exceeds `maxBytes`: never more than `maxBytes` + 1 bytes
 * are read, whatever the workspace holds. Unreadable files are left out.
 */
export async function readWorkspace(container: Docker.Container, maxBytes: number): Promise<WorkspaceTar | 'too_large'> {
  const r = await dockerExec(container, {
    cmd: tarCommand(maxBytes),
    user: SANDBOX_USER,
    limitBytes: maxBytes,
    stopAtLimit: true,
    waitMs: TAR_WAIT_MS,
  });
  if (r.stdoutTruncated) return 'too_large';
  // tar's exit 1 (a file changed while it was read) or 2 with a full archive (some file could not be read)
  // still give a usable tar: it ends with its two zero blocks. Anything else is a failure.
  const complete = r.stdout.length >= 1024 && r.stdout.length % 512 === 0 && r.stdout.subarray(-1024).every((b) => b === 0);
  if (r.abandoned || !complete) throw new Error(`could not read the workspace (exit ${r.exitCode}): ${r.stderr.toString('utf8').trim().slice(0, 500)}`);
  return { tar: r.stdout, digest: digestOf(r.stdout) };
}

/** The tar command of a workspace checkpoint, cut one byte past `maxBytes` inside the container. */
function tarCommand(maxBytes: number): string[] {
  // Sorted names: the same workspace always gives the same bytes, so its digest says whether it changed.
  // Sparse files go as their data and a map of their holes: a `truncate -s 2T` file costs a header,
  // not 2 TiB of zeros streamed through Docker.
  // `head` ends the stream one byte past the cap, inside the container: tar then stops on its next write,
  // and no more than that crosses Docker (the worker also stops reading there, should `head` not).
  return ['sh', '-c', 'tar -C /workspace --sort=name --numeric-owner --sparse --warning=no-file-changed -cf - . | head -c "$1"', 'sh', String(maxBytes + 1)];
}

/** A workspace on its way out as a gzipped tar, read from the container only as fast as `gzip` is read. */
export interface WorkspaceStream {
  gzip: Readable;
  /**
   * Once `gzip` has ended: the tar's digest and size. `gzip` fails instead (so that an upload of it never
   * completes) when the tar is cut short (IncompleteTar) or passes `maxBytes` (CheckpointTooLarge).
   */
  result(): { digest: string; rawBytes: number };
  /** Stops reading the workspace (the upload failed). */
  abort(): void;
  /** The failure of an upload of `gzip`, with tar's own words when the archive was cut short. */
  explain(e: unknown): Promise<unknown>;
}

/**
 * The workspace as a stream of gzip, for a full checkpoint of any size: tar's output goes through a meter
 * (size, digest, the cap, the archive's end) and gzip as the upload reads it, so this process holds a
 * few chunks of it at a time, never the whole.
 */
export async function streamWorkspace(container: Docker.Container, maxBytes: number): Promise<WorkspaceStream> {
  const x = await dockerExecStream(container, { cmd: tarCommand(maxBytes), user: SANDBOX_USER });
  const meter = new TarMeter({ maxBytes, wholeTar: true, tooLarge: `the workspace is larger than ${maxBytes} bytes` });
  const gz = createGzip({ level: 6 });
  pipeline(x.stdout, meter, gz).catch(() => x.abort());
  return {
    gzip: gz,
    result: () => ({ digest: meter.digest, rawBytes: meter.bytes }),
    abort: () => { x.abort(); gz.destroy(); },
    async explain(e: unknown) {
      // tar's own complaint says why the archive was cut short.
      if (!(e instanceof IncompleteTar)) return e;
      const stderr = x.stderr().toString('utf8').trim().slice(0, 500);
      return new Error(`could not read the workspace (exit ${await x.exitCode()}): ${stderr || e.message}`);
    },
  };
}

/** What a restore left out of the checkpoint: the first members it refused, each with why, and how many in all. */
export interface RestoreAnswer { refused: string[]; refused_count: number }

/** The restore's rules, one source for the session agent (which includes it) and for `docker exec`. */
export const RESTORE_SOURCE = readFileSync(join(sandboxProgramsDir, 'workspace-restore.py'), 'utf8');

/** The answer of workspace-restore.py, as the agent or the exec path gives it. */
export function restoreAnswerOf(frame: Record<string, unknown>): RestoreAnswer {
  if (frame.error !== undefined || frame.restored !== true) throw new Error(`could not restore the workspace: ${String(frame.message ?? frame.error ?? 'no answer')}`);
  const refused = Array.isArray(frame.refused) ? frame.refused.map(String).slice(0, 20) : [];
  return { refused, refused_count: Math.max(refused.length, Number(frame.refused_count) || 0) };
}

/**
 * Unpacks a stored part into the (empty) workspace of a fresh container, for parts too large for one
 * frame to its agent: the same python code, run by the same user, the tar on its stdin. The part arrives
 * as a stream of gzip and is inflated on its way into that stdin, up to `maxBytes` (CheckpointTooLarge past that), and
 * checked against `digest` at its end. A part that fails either is unpacked only in part: the caller
 * discards the container.
 */
export async function writeWorkspaceStream(container: Docker.Container, gzipped: Readable, digest: string, maxBytes: number): Promise<RestoreAnswer & { rawBytes: number }> {
  const x = await dockerExecStream(container, { cmd: ['python3', '-c', `${RESTORE_SOURCE}\nrestore_stdin()\n`], user: SANDBOX_USER, workingDir: '/workspace', stdin: true });
  const meter = new TarMeter({ maxBytes, expectDigest: digest || undefined, tooLarge: `the checkpoint inflates to more than ${maxBytes} bytes, more than this session's workspace holds: it was not restored` });
  let failure: Error | undefined;
  const fed = pipeline(gzipped, createGunzip(), meter, x.stdin!).catch((e: Error) => {
    failure = e;
    x.abort();
  });
  const out = new CappedSink(64 * 1024);
  await pipeline(x.stdout, out).catch(() => undefined);
  await fed;
  const exitCode = await x.exitCode();
  if (failure instanceof CheckpointTooLarge || failure instanceof DigestMismatch) throw failure;
  const line = out.bytes.toString('utf8').trim().split('\n').at(-1) ?? '';
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw failure ?? new Error(`could not restore the workspace (exit ${exitCode}): ${x.stderr().toString('utf8').trim().slice(0, 500)}`);
  }
  // The restore's own refusal (a full workspace) says more than the broken pipe it left behind.
  const restored = restoreAnswerOf(answer);
  if (failure) throw failure;
  return { ...restored, rawBytes: meter.bytes };
}

export const compress = (tar: Buffer): Promise<Buffer> => gzip(tar, { level: 6 });

export { CheckpointTooLarge };

/**
 * The tar of a stored checkpoint, checked against the digest it was stored under. Inflating stops at
 * `maxBytes`: a small checkpoint that inflates to gigabytes never fills this process's memory.
 */
export async function decompress(data: Buffer, digest: string, maxBytes: number): Promise<Buffer> {
  let tar: Buffer;
  try {
    tar = await gunzip(data, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CheckpointTooLarge(`the checkpoint inflates to more than ${maxBytes} bytes, more than this session's workspace holds: it was not restored`);
    }
    throw e;
  }
  if (digest && digestOf(tar) !== digest) throw new DigestMismatch();
  return tar;
}
