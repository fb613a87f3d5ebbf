// Terminal sessions on one host. A session's container is created by whichever host takes the start
// activity from the terminal runtime's queue; it answers with its own host queue, where every later
// step of that session (commands, files, removal) is sent.
import type Docker from 'dockerode';
import { DuraboxError } from '../contract/errors.js';
import type { CellResult, CheckpointResult, FileOp, FileResult, HostExecResult, Language, RestoredCheckpoint } from '../contract/messages.js';
import type { TemplateRef } from '../contract/templates.js';
import type { OnChunk } from '../sandbox/frame-channel.js';
import { ContainerGone, HostFull, RESTORE_BY_AGENT_BYTES, SessionGone, type SessionContainers } from '../sandbox/session-containers.js';
import { runFileOp } from '../sandbox/session-files.js';
import { CheckpointTooLarge, compress, decompress, readWorkspace, writeWorkspaceStream, type RestoreAnswer } from '../sandbox/workspace-checkpoint.js';
import { Checkpoints, storedOrFailed, type CheckpointTarget, type SnapshotClient } from './checkpoints.js';
import type { OutputPublisher } from './output-publisher.js';
import { reportingFailures } from './failures.js';
import { countedInflight, withHeartbeat } from './heartbeat.js';

export interface TerminalDeps {
  docker: Docker;
  workerId: string;
  hostQueue: string;
  containers: SessionContainers;
  outputLimitBytes: number;
  fileMaxBytes: number;
  inflight: Map<string, number>;
  /** Forwards output while commands and cells run, to the stream the caller named. */
  output?: OutputPublisher;
  /** Where sessions' checkpoints are stored and read: the platform's snapshot store, through the API. */
  snapshots: SnapshotClient;
  /** Largest workspace a checkpoint holds (uncompressed). */
  checkpointMaxBytes: number;
  /** Stores sessions' checkpoint parts, one at a time per session (made by terminalDeps's caller). */
  checkpoints: Checkpoints;
}

/** The checkpoints of a host's sessions, for its TerminalDeps. */
export function hostCheckpoints(d: Pick<TerminalDeps, 'docker' | 'containers' | 'snapshots' | 'checkpointMaxBytes'>): Checkpoints {
  return new Checkpoints(d);
}

export type { SnapshotClient };

/**
 * A step that stores its effect on /workspace before it answers (DURABOX_SESSION_DURABILITY=zero): the
 * session and the grant of its container's generation to write its checkpoint chain.
 */
export interface Durable { accountId: string; sessionId: string; grant: string }

/** A step's answer, with what storing its effect did (absent: the step was not durable). */
export type Stored<T> = T & { checkpoint?: CheckpointResult };

/** Created on any terminal host, from the runtime's shared queue. */
export function createSessionStartActivities(d: TerminalDeps) {
  const checkpoints = d.checkpoints;
  return {
    async createSessionContainer(req: {
      sessionId: string;
      accountId: string;
      firstCommand?: { command: string; timeoutMs: number; streamId?: string; streamGrant?: string };
      /** The session moves here: its latest checkpoint is unpacked into the new container's workspace first. */
      restore?: boolean;
      /** The grant to read that checkpoint (control/host-grants.ts), naming the new container's generation. */
      snapshotGrant?: string;
      /** The first command's effect is stored before the answer, under this grant. */
      durable?: Durable;
      /** A restore that finds no checkpoint starts from an empty workspace (nothing acknowledged ever changed it). */
      emptyOk?: boolean;
      /** The account template the session runs in. */
      template?: TemplateRef;
    }): Promise<{ hostQueue: string; hostId: string; containerId: string; first?: Stored<HostExecResult>; restored?: RestoredCheckpoint }> {
      // Heartbeats from the first instant: creating a container on a loaded host can take seconds.
      return withHeartbeat(() => reportingFailures(async () => {
        let containerId: string;
        try {
          containerId = await d.containers.take(req.template);
        } catch (e) {
          throw e instanceof HostFull ? new DuraboxError('host_full', e.message) : e;
        }
        const taken = { hostQueue: d.hostQueue, hostId: d.workerId, containerId };
        try {
          // A moved session's checkpoint goes in before its command runs.
          const restored = req.restore ? { restored: await restoreInto(d, containerId, req, d.containers.workspaceBytes(req.template)) } : {};
          const first = req.firstCommand;
          if (!first) {
            d.containers.started(containerId);
            return { ...taken, ...restored };
          }
          const sink = first.streamId && first.streamGrant ? d.output?.sink(first.streamId, 0, first.streamGrant) : undefined;
          const ran = await d.containers.exec(containerId, { command: first.command, timeoutMs: first.timeoutMs, limitBytes: d.outputLimitBytes }, sink);
          if (first.streamId) d.output?.finish(first.streamId);
          const stored = req.durable ? await storeEffect(checkpoints, { containerId, ...req.durable }) : {};
          d.containers.started(containerId);
          return { ...taken, ...restored, first: { ...ran, ...stored } };
        } catch (e) {
          // No session will ever own this container: do not leave it behind.
          await d.containers.remove(containerId).catch(() => undefined);
          throw e;
        }
      }));
    },
  };
}

/** Served only from this host's own queue. */
export function createHostActivities(d: TerminalDeps) {
  const count = <T>(work: () => Promise<T>) => countedInflight(d.inflight, 'terminal', work);

  /** A step running the user's work in a session, its output forwarded to `streamId` (under its grant) when one is named. */
  const inSession = <T>(req: { streamId?: string; streamGrant?: string }, work: (sink: OnChunk | undefined) => Promise<T>) =>
    count(() => withHeartbeat(() => reportingFailures(async () => {
      const streamId = req.streamGrant ? req.streamId : undefined;
      try {
        return await work(streamId ? d.output?.sink(streamId, 0, req.streamGrant!) : undefined);
      } catch (e) {
        throw goneAs(e);
      } finally {
        if (streamId) d.output?.finish(streamId);
      }
    })));

  const checkpoints = d.checkpoints;
  /** After a durable step: its effect stored, or why not (the step's own result stands either way). */
  const stored = (containerId: string, durable: Durable | undefined) => (durable ? storeEffect(checkpoints, { containerId, ...durable }) : Promise.resolve({}));

  return {
    async sessionExec(req: { containerId: string; command: string; timeoutMs: number; streamId?: string; streamGrant?: string; durable?: Durable }): Promise<Stored<HostExecResult>> {
      return inSession(req, async (sink) => {
        const r = await d.containers.exec(req.containerId, { command: req.command, timeoutMs: req.timeoutMs, limitBytes: d.outputLimitBytes }, sink);
        return { ...r, ...(await stored(req.containerId, req.durable)) };
      });
    },

    async sessionCell(req: { containerId: string; contextId: string; language: Language; code: string; timeoutMs: number; streamId?: string; streamGrant?: string; durable?: Durable }): Promise<Stored<CellResult>> {
      return inSession(req, async (sink) => {
        const r = await d.containers.cell(req.containerId, { ...req, limitBytes: d.outputLimitBytes }, sink);
        return { ...r, ...(await stored(req.containerId, req.durable)) };
      });
    },

    // Every step heartbeats while it waits: a slow one is never mistaken for a lost host.
    async dropContext(req: { containerId: string; contextId: string }): Promise<void> {
      await withHeartbeat(() => reportingFailures(async () => {
        try {
          await d.containers.dropContext(req.containerId, req.contextId);
        } catch (e) {
          throw goneAs(e);
        }
      }));
    },

    async sessionFile(req: { containerId: string; op: FileOp; durable?: Durable }): Promise<Stored<FileResult>> {
      const target = req.durable && { containerId: req.containerId, ...req.durable };
      return count(() => withHeartbeat(() => reportingFailures(() =>
        checkpoints.fileCall(target, req.containerId, () => runFileOp(d.docker.getContainer(req.containerId), req.op, { maxBytes: d.fileMaxBytes })))));
    },

    /**
     * Saves the session's workspace to the snapshot store. A session of checkpoint chains (`chain`) stores
     * what changed since the chain's last part, or, with `full`, the whole workspace as the chain's new
     * base. One from before chains sends its last digest, and the whole workspace goes when it differs.
     * The snapshot goes to the store, never through Temporal: the answer is its size.
     */
    async checkpointSession(req: { containerId: string; accountId: string; sessionId: string; lastDigest?: string; grant?: string; chain?: boolean; full?: boolean }): Promise<CheckpointResult> {
      return withHeartbeat(() => reportingFailures(async () => {
        if (req.chain && req.grant) {
          try {
            return await checkpoints.save({ containerId: req.containerId, accountId: req.accountId, sessionId: req.sessionId, grant: req.grant }, req.full);
          } catch (e) {
            throw lostAs(goneAs(e));
          }
        }
        let ws;
        try {
          ws = await readWorkspace(d.docker.getContainer(req.containerId), d.checkpointMaxBytes);
        } catch (e) {
          throw lostAs(e);
        }
        if (ws === 'too_large') return { outcome: 'too_large' };
        if (ws.digest === req.lastDigest) return { outcome: 'unchanged', digest: ws.digest };
        const data = await compress(ws.tar);
        if (!req.grant) throw new DuraboxError('execution_failed', 'this checkpoint step carries no grant to store it (a session started before grants: it checkpoints again after its next continue-as-new)');
        await d.snapshots.putSnapshot({ accountId: req.accountId, sessionId: req.sessionId, digest: ws.digest, grant: req.grant }, data);
        return { outcome: 'saved', digest: ws.digest, raw_bytes: ws.tar.length, bytes: data.length };
      }));
    },

    async removeSessionContainer(req: { containerId: string }): Promise<void> {
      await withHeartbeat(() => d.containers.remove(req.containerId));
    },
  };
}

/** A container Docker no longer has, met by a checkpoint: its session is lost here. */
function lostAs(e: unknown): unknown {
  const code = (e as { statusCode?: number }).statusCode;
  return code === 404 || code === 409 ? new DuraboxError('session_lost', 'the session\'s container is gone') : e;
}

/** Stores a durable step's effect (storedOrFailed); a container lost meanwhile fails the step as such. */
async function storeEffect(checkpoints: Checkpoints, t: CheckpointTarget): Promise<{ checkpoint: CheckpointResult }> {
  return {
    checkpoint: await storedOrFailed(async () => {
      try {
        return await checkpoints.save(t);
      } catch (e) {
        throw e instanceof SessionGone ? goneAs(e) : e;
      }
    }),
  };
}

/** A container already gone before the step began, or one lost under it, as the workflow tells them apart. */
function goneAs(e: unknown): unknown {
  if (e instanceof ContainerGone) return new DuraboxError('container_gone', e.message);
  return e instanceof SessionGone ? new DuraboxError('session_lost', e.message) : e;
}

/** Room in the inflated tar beyond the workspace's size: a tar's headers take space its files do not. */
const RESTORE_MARGIN_BYTES = 16 * 1024 * 1024;

/**
 * Unpacks the session's checkpoint chain into a container this host just took for it, read under the
 * grant of this restore step: claiming the chain for the new container's generation first, so that no
 * older container of the session writes to it again. Each part is inflated only up to what the session's
 * workspace can hold (and no more than any checkpoint is made of): past that it is refused whole, as a
 * session error, and this process never holds more. The agent then notes the workspace as restored: its
 * next delta is taken from there.
 */
async function restoreInto(d: TerminalDeps, containerId: string, req: { sessionId: string; accountId: string; snapshotGrant?: string; emptyOk?: boolean }, workspaceBytes: number): Promise<RestoredCheckpoint> {
  if (!req.snapshotGrant) throw new DuraboxError('session_lost', `the restore of session ${req.sessionId} carries no grant to read its checkpoint`);
  const q = { accountId: req.accountId, sessionId: req.sessionId, grant: req.snapshotGrant };
  const parts = await d.snapshots.claimSnapshot(q);
  if (parts.length === 0 && !req.emptyOk) throw new DuraboxError('session_lost', `session ${req.sessionId} has no checkpoint to restore`);
  const cap = Math.min(d.checkpointMaxBytes, workspaceBytes + RESTORE_MARGIN_BYTES);
  let rawBytes = 0;
  const refused: string[] = [];
  let refusedCount = 0;
  for (const part of parts) {
    let answer: RestoreAnswer & { rawBytes: number };
    try {
      answer = await restorePart(d, containerId, { ...q, seq: part.seq }, part.raw_bytes, cap);
    } catch (e) {
      throw e instanceof CheckpointTooLarge ? new DuraboxError('invalid_input', e.message) : e;
    }
    rawBytes += answer.rawBytes;
    refusedCount += answer.refused_count;
    refused.push(...answer.refused.slice(0, Math.max(0, 20 - refused.length)));
  }
  const walked = await d.containers.delta(containerId, 'walk', 0, { contexts: true });
  if (walked.kind === 'unchanged') throw new Error('the session agent answered no walk');
  await d.containers.commitDelta(containerId, walked.token);
  const contexts = walked.kind === 'walked' ? walked.contexts : undefined;
  return { digest: parts.at(-1)?.digest ?? '', raw_bytes: rawBytes, parts: parts.length, ...(contexts && Object.keys(contexts).length > 0 ? { contexts } : {}), ...(refusedCount > 0 ? { refused, refused_count: refusedCount } : {}) };
}

/**
 * Unpacks one part of a chain into the container. A small part (a delta, a small workspace) is read whole
 * and handed to the session's agent; a large one streams from the store through gunzip into the restore's
 * stdin, so this process never holds it. Either way inflating stops at `cap`, and the digest is checked.
 */
async function restorePart(d: TerminalDeps, containerId: string, q: { accountId: string; sessionId: string; grant: string; seq: number }, rawBytes: number, cap: number): Promise<RestoreAnswer & { rawBytes: number }> {
  const gone = () => new DuraboxError('session_lost', `part ${q.seq} of session ${q.sessionId}'s checkpoint is gone (the chain changed under the restore)`);
  // A part that says it is larger than the workspace holds is refused before a byte of it is read.
  if (rawBytes > cap) throw new CheckpointTooLarge(`the checkpoint inflates to more than ${cap} bytes, more than this session's workspace holds: it was not restored`);
  if (rawBytes > RESTORE_BY_AGENT_BYTES) {
    const part = await d.snapshots.openSnapshot(q);
    if (!part) throw gone();
    return writeWorkspaceStream(d.docker.getContainer(containerId), part.body, part.digest, cap);
  }
  const snap = await d.snapshots.getSnapshot(q);
  if (!snap) throw gone();
  // Said to be small: one that inflates past the agent's frame is refused (its size was misstated).
  const tar = await decompress(snap.data, snap.digest, Math.min(cap, RESTORE_BY_AGENT_BYTES));
  return { ...(await d.containers.restore(containerId, tar)), rawBytes: tar.length };
}

export type SessionStartActivities = ReturnType<typeof createSessionStartActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;
