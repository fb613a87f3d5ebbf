// A session's /workspace in and out of its container as a tar, run as the sandbox user through `docker
// exec` (the workspace is a tmpfs: Docker's archive API does not see into it). The host checkpoints a
// workspace by its digest, so a command that changed nothing costs no upload, and restores one into a
// fresh container when its session moves here.
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip as gunzipCb, gzip as gzipCb } from 'node:zlib';
import type Docker from 'dockerode';
import { SANDBOX_USER } from './profile.js';
import { dockerExec } from './docker-exec.js';

const gzip = promisify(gzipCb);
const gunzip = promisify(gunzipCb);

/** The longest a tar in or out of a container may take. */
const TAR_WAIT_MS = 120_000;

export interface WorkspaceTar { tar: Buffer; digest: string }

/** The sha256 of an uncompressed tar: equal digests, equal workspaces (names, modes, times, contents). */
export const digestOf = (tar: Buffer): string => createHash('sha256').update(tar).digest('hex');

/** The workspace as a tar, or `too_large` when it exceeds `maxBytes`. Unreadable files are left out. */
export async function readWorkspace(container: Docker.Container, maxBytes: number): Promise<WorkspaceTar | 'too_large'> {
  const r = await dockerExec(container, {
    // Sorted names: the same workspace always gives the same bytes, so its digest says whether it changed.
    cmd: ['tar', '-C', '/workspace', '--sort=name', '--numeric-owner', '--warning=no-file-changed', '-cf', '-', '.'],
    user: SANDBOX_USER,
    limitBytes: maxBytes + 1,
    waitMs: TAR_WAIT_MS,
  });
  if (r.stdoutTruncated) return 'too_large';
  // 1: a file changed while it was read; 2 with a full archive: some file could not be read. Both still
  // give a usable tar (it ends with its two zero blocks); anything else is a failure.
  const complete = r.stdout.length >= 1024 && r.stdout.length % 512 === 0;
  if (r.abandoned || !complete) throw new Error(`could not read the workspace (tar exit ${r.exitCode}): ${r.stderr.toString('utf8').trim().slice(0, 500)}`);
  return { tar: r.stdout, digest: digestOf(r.stdout) };
}

/** Unpacks a checkpoint into the (empty) workspace of a fresh container. */
export async function writeWorkspace(container: Docker.Container, tar: Buffer): Promise<void> {
  const r = await dockerExec(container, {
    cmd: ['tar', '-C', '/workspace', '--numeric-owner', '--no-same-owner', '-xf', '-'],
    user: SANDBOX_USER,
    stdin: tar,
    limitBytes: 64 * 1024,
    waitMs: TAR_WAIT_MS,
  });
  if (r.abandoned || r.exitCode !== 0) throw new Error(`could not restore the workspace (tar exit ${r.exitCode}): ${r.stderr.toString('utf8').trim().slice(0, 500)}`);
}

export const compress = (tar: Buffer): Promise<Buffer> => gzip(tar, { level: 6 });

/** The tar of a stored checkpoint, checked against the digest it was stored under. */
export async function decompress(data: Buffer, digest: string): Promise<Buffer> {
  const tar = await gunzip(data);
  if (digest && digestOf(tar) !== digest) throw new Error('the checkpoint does not match its digest: it was damaged in store or in transit');
  return tar;
}
