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
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import type Docker from 'dockerode';
import { sandboxProgramsDir } from '../config/paths.js';
import { SANDBOX_USER } from './profile.js';
import { dockerExec } from './docker-exec.js';

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
    // Sorted names: the same workspace always gives the same bytes, so its digest says whether it changed.
    // Sparse files go as their data and a map of their holes: a `truncate -s 2T` file costs a header,
    // not 2 TiB of zeros streamed through Docker.
    // `head` ends the stream one byte past the cap, inside the container: tar then stops on its next write,
    // and no more than that crosses Docker (the worker also stops reading there, should `head` not).
    cmd: ['sh', '-c', 'tar -C /workspace --sort=name --numeric-owner --sparse --warning=no-file-changed -cf - . | head -c "$1"', 'sh', String(maxBytes + 1)],
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
 * Unpacks a checkpoint into the (empty) workspace of a fresh container, for checkpoints too large for one
 * frame to its agent: the same python code, run by the same user, the tar on its stdin.
 */
export async function writeWorkspace(container: Docker.Container, tar: Buffer): Promise<RestoreAnswer> {
  const r = await dockerExec(container, {
    cmd: ['python3', '-c', `${RESTORE_SOURCE}\nrestore_stdin()\n`],
    user: SANDBOX_USER,
    workingDir: '/workspace',
    stdin: tar,
    limitBytes: 64 * 1024,
    waitMs: TAR_WAIT_MS,
  });
  const line = r.stdout.toString('utf8').trim().split('\n').at(-1) ?? '';
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`could not restore the workspace (exit ${r.exitCode}${r.abandoned ? ', timed out' : ''}): ${r.stderr.toString('utf8').trim().slice(0, 500)}`);
  }
  return restoreAnswerOf(answer);
}

export const compress = (tar: Buffer): Promise<Buffer> => gzip(tar, { level: 6 });

/** A checkpoint that inflates past its bound: a gzip bomb, or a workspace larger than this session's. */
export class CheckpointTooLarge extends Error {}

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
  if (digest && digestOf(tar) !== digest) throw new Error('the checkpoint does not match its digest: it was damaged in store or in transit');
  return tar;
}
