// Zero loss of acknowledged work (spec §6, docs/sessions/durability.md). A session step that may have
// changed /workspace stores what it changed before it answers: its agent walks the workspace and hands
// over a tar of the entries that differ from the chain's last stored part (a delta), which goes to the
// snapshot store as the chain's next part. A step that changed nothing costs a walk and no upload; a
// workspace whose changes are too large for a delta, or whose chain is due to be compacted, is stored
// whole instead. A file call knows what it changed: its delta is made here, from the bytes it wrote (or,
// for a move, copy or mkdir, from the trees it names, read back from the container).
//
// The parts of one session are stored one at a time, in the order they were observed: a delta taken
// while a file call of the same session is under way could otherwise land after it with older content.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { extract, pack } from 'tar-stream';
import { DuraboxError } from '../contract/errors.js';
import type { CheckpointResult } from '../contract/messages.js';
import { KeyedGate } from '../control/keyed-gate.js';
import type { SessionContainers } from '../sandbox/session-containers.js';
import { workspaceTrees, type FileChange } from '../sandbox/session-files.js';
import { CheckpointTooLarge, compress, digestOf, streamWorkspace } from '../sandbox/workspace-checkpoint.js';

/** Where a session's checkpoint goes: the session, its container and the grant of its current generation. */
export interface CheckpointTarget { containerId: string; accountId: string; sessionId: string; grant: string }

export interface SnapshotClient {
  /**
   * Stores a part of the session's chain (a Buffer, or a stream sent as it is read); a `fenced`
   * DuraboxError when a newer container owns the chain. Answers what the store measured.
   */
  putSnapshot(q: { accountId: string; sessionId: string; digest?: string; grant: string; kind?: 'full' | 'delta' }, data: Buffer | Readable): Promise<StoredPart>;
  /** The session's chain, claimed for the generation the grant names (a restore). */
  claimSnapshot(q: { accountId: string; sessionId: string; grant: string }): Promise<Array<{ seq: number; kind: 'full' | 'delta'; digest: string; raw_bytes: number; bytes: number }>>;
  /** One part of the chain (`seq`), or its base. */
  getSnapshot(q: { accountId: string; sessionId: string; grant: string; seq?: number }): Promise<{ data: Buffer; digest: string } | undefined>;
  /** One part of the chain as a stream (a large one). */
  openSnapshot(q: { accountId: string; sessionId: string; grant: string; seq?: number }): Promise<{ body: Readable; digest: string } | undefined>;
}

/** What the store answers for a part it took (absent fields: an API from before it measured parts). */
export interface StoredPart { seq?: number; digest?: string; raw_bytes?: number; bytes?: number }

/** The workspace could not be read whole (tar failed, the container went away): trying the upload again would not help. */
class WorkspaceUnreadable extends Error {}

/** Changed file content one delta carries at most (one frame from the agent); more: the workspace goes whole. */
export const DELTA_MAX_BYTES = 8 * 1024 * 1024;
/** How long a step keeps trying to store its effect while the API does not answer (a restart). */
const STORE_PATIENCE_MS = 60_000;
/** The PAX record that marks a delta member as deleted (DELETED_KEY of workspace-restore.py). */
const DELETED_KEY = 'DURABOX.deleted';
const WORKSPACE = '/workspace';

export class Checkpoints {
  /** One stored part at a time per container, in the order observed. */
  private readonly order = new KeyedGate(1);

  constructor(private readonly d: { docker: Docker; containers: SessionContainers; snapshots: SnapshotClient; checkpointMaxBytes: number }) {}

  /**
   * Stores what changed in the session's workspace since the chain's last part: a delta, or the whole
   * workspace when `full` (the chain is compacted) or when the changes are too large for a delta.
   */
  save(t: CheckpointTarget, full = false): Promise<CheckpointResult> {
    return this.order.run(t.containerId, async () => {
      let token: number | undefined;
      if (!full) {
        const dl = await this.d.containers.delta(t.containerId, 'delta', DELTA_MAX_BYTES);
        if (dl.kind === 'unchanged') return { outcome: 'unchanged' };
        if (dl.kind === 'delta') {
          const stored = await this.store(t, 'delta', dl.tar);
          await this.d.containers.commitDelta(t.containerId, dl.token);
          return stored;
        }
        token = dl.token;
      }
      // The walk comes before the tar: whatever changes between them differs from it, and goes in the next delta.
      if (token === undefined) {
        const walked = await this.d.containers.delta(t.containerId, 'walk', 0);
        if (walked.kind === 'unchanged') throw new Error('the session agent answered no walk');
        token = walked.token;
      }
      const stored = await this.storeFull(t);
      if (stored.outcome === 'saved') await this.d.containers.commitDelta(t.containerId, token);
      return stored;
    });
  }

  /**
   * Runs a file call, and stores what it changed before it answers when `t` is given, in order with the
   * session's other parts: the written file (its bytes are at hand) or the deletion as a one-entry delta;
   * the trees a move, copy or mkdir removed and made as one delta read back from the container. None of
   * them asks the session's agent, which may be running a command: a file call never waits for one.
   */
  fileCall<R extends object>(t: CheckpointTarget | undefined, containerId: string, run: () => Promise<{ result: R; changed?: FileChange }>): Promise<R & { checkpoint?: CheckpointResult }> {
    if (!t) return run().then((r) => r.result as R & { checkpoint?: CheckpointResult });
    return this.order.run(containerId, async () => {
      const { result, changed } = await run();
      if (!changed) return result as R & { checkpoint?: CheckpointResult };
      const delta = changed.kind === 'trees' ? await this.treesDelta(containerId, changed) : await oneEntryDelta(changed);
      if (!delta) return result as R & { checkpoint?: CheckpointResult };
      // The change stands; the session is checkpointed again later (a moved session's change is refused).
      // Trees too large for a delta (or unreadable as one) go whole, as a command's changes would.
      const store = delta === 'whole' ? () => this.storeFull(t) : () => this.store(t, 'delta', delta);
      return { ...result, checkpoint: await storedOrFailed(store) };
    });
  }

  /** The delta of a move, copy or mkdir: its removed trees as deletions, then its made trees as they are now. */
  private async treesDelta(containerId: string, change: Extract<FileChange, { kind: 'trees' }>): Promise<Buffer | 'whole' | undefined> {
    const deleted = change.deleted.map(relativeToWorkspace).filter((n): n is string => n !== undefined);
    const added = change.added.map(relativeToWorkspace).filter((n): n is string => n !== undefined);
    if (deleted.length === 0 && added.length === 0) return undefined;
    const trees = added.length > 0 ? await workspaceTrees(this.d.docker.getContainer(containerId), added, DELTA_MAX_BYTES) : Buffer.alloc(0);
    if (typeof trees === 'string') return 'whole';
    return deltaOf(deleted, trees);
  }

  /** Stores one part, trying again while the API restarts; a chain owned by a newer container: `fenced`. */
  private async store(t: CheckpointTarget, kind: 'full' | 'delta', tar: Buffer): Promise<CheckpointResult> {
    const data = await compress(tar);
    const digest = digestOf(tar);
    return this.patiently(async () => {
      const part = await this.d.snapshots.putSnapshot({ accountId: t.accountId, sessionId: t.sessionId, digest, grant: t.grant, kind }, data);
      return { outcome: 'saved', kind, ...(part.seq !== undefined ? { seq: part.seq } : {}), digest, raw_bytes: tar.length, bytes: data.length };
    });
  }

  /**
   * Stores the whole workspace as the chain's new base, streamed from the container's tar through gzip to
   * the store, so a workspace of any size costs this process a few chunks (docs/sessions/snapshot-store.md).
   * The workspace outgrowing the cap on the way: `too_large`, and nothing is stored.
   */
  private async storeFull(t: CheckpointTarget): Promise<CheckpointResult> {
    return this.patiently(async () => {
      const ws = await streamWorkspace(this.d.docker.getContainer(t.containerId), this.d.checkpointMaxBytes);
      let part: StoredPart;
      try {
        part = await this.d.snapshots.putSnapshot({ accountId: t.accountId, sessionId: t.sessionId, grant: t.grant, kind: 'full' }, ws.gzip);
      } catch (e) {
        ws.abort();
        if (e instanceof CheckpointTooLarge) return { outcome: 'too_large' };
        const explained = await ws.explain(e);
        throw explained !== e ? new WorkspaceUnreadable((explained as Error).message) : e;
      }
      const { digest, rawBytes } = ws.result();
      // gzip's CRC guards the transfer; this guards the whole way, the store's own reading included.
      if (part.digest && part.digest !== digest) throw new WorkspaceUnreadable(`the store measured the checkpoint as ${part.digest}, this host sent ${digest}: it was damaged on the way`);
      return { outcome: 'saved', kind: 'full', ...(part.seq !== undefined ? { seq: part.seq } : {}), digest, raw_bytes: rawBytes, bytes: part.bytes ?? 0 };
    });
  }

  /** Runs an upload again while the API does not answer (a restart), up to STORE_PATIENCE_MS. */
  private async patiently(upload: () => Promise<CheckpointResult>): Promise<CheckpointResult> {
    const until = Date.now() + STORE_PATIENCE_MS;
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      try {
        return await upload();
      } catch (e) {
        // The API's answer, the workspace itself, or Docker: trying again would meet the same.
        const final = e instanceof DuraboxError || e instanceof WorkspaceUnreadable || (e as { statusCode?: number }).statusCode !== undefined;
        if (final || Date.now() + wait > until) throw e;
        await sleep(wait);
      }
    }
  }
}

/**
 * What storing a step's effect did, for the step's answer. A chain a newer container owns refuses it (the
 * session moved: the step's work is not the session's), or a container gone, fails the step; any other failure, after the
 * store's patience, is answered beside the step's result, and the session checkpoints again later.
 */
export async function storedOrFailed(store: () => Promise<CheckpointResult>): Promise<CheckpointResult> {
  try {
    return await store();
  } catch (e) {
    // The container is not the session's (fenced), or is gone: the step's own answer says so.
    if (e instanceof DuraboxError && (e.code === 'fenced' || e.code === 'container_gone' || e.code === 'session_lost')) throw e;
    return { outcome: 'failed', message: (e as Error).message.slice(0, 300) };
  }
}

/** A path inside the container as a member name under /workspace; undefined when it is elsewhere (/tmp). */
function relativeToWorkspace(path: string): string | undefined {
  if (!path.startsWith(`${WORKSPACE}/`)) return undefined;
  const rel = path.slice(WORKSPACE.length + 1);
  return rel && !rel.split('/').includes('..') ? `./${rel}` : undefined;
}

/** The delta of one file call: the file as written (with its mode when the call read it back), or the path deleted; none outside /workspace. */
async function oneEntryDelta(change: Exclude<FileChange, { kind: 'trees' }>): Promise<Buffer | undefined> {
  const name = relativeToWorkspace(change.path);
  if (name === undefined) return undefined;
  const p = pack();
  if (change.kind === 'written') {
    const mode = change.mode !== undefined && Number.isInteger(change.mode) ? change.mode & 0o7777 : 0o644;
    p.entry({ name, size: change.content.length, mode, mtime: new Date() }, change.content);
  } else {
    p.entry({ name, size: 0, mode: 0o644, mtime: new Date(), pax: { [DELETED_KEY]: '1' } }, Buffer.alloc(0));
  }
  p.finalize();
  return buffer(p as unknown as Readable);
}

/** Deletion members for `deleted`, then every member of `trees` (a tar of `./name` members) as it is. */
export async function deltaOf(deleted: string[], trees: Buffer): Promise<Buffer> {
  const p = pack();
  for (const name of deleted) p.entry({ name, size: 0, mode: 0o644, mtime: new Date(), pax: { [DELETED_KEY]: '1' } }, Buffer.alloc(0));
  const out = buffer(p as unknown as Readable);
  if (trees.length > 0) {
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      stream.pipe(p.entry(header, (e) => next(e ?? undefined)));
    });
    await new Promise<void>((resolve, reject) => {
      ex.on('finish', resolve);
      ex.on('error', reject);
      ex.end(trees);
    });
  }
  p.finalize();
  return out;
}
