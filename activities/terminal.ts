// Terminal sessions on one host. A session's container is created by whichever host takes the start
// activity from the terminal runtime's queue; it answers with its own host queue, where every later
// step of that session (commands, files, removal) is sent.
import type Docker from 'dockerode';
import { DuraboxError } from '../contract/errors.js';
import type { CellResult, CheckpointResult, FileOp, FileResult, HostExecResult, Language, RestoredCheckpoint } from '../contract/messages.js';
import type { TemplateRef } from '../contract/templates.js';
import type { OnChunk } from '../sandbox/frame-channel.js';
import { ContainerGone, HostFull, RESTORE_BY_AGENT_BYTES, SessionGone, type SessionContainers } from '../sandbox/session-containers.js';
import { sessionFileOp } from '../sandbox/session-files.js';
import { CheckpointTooLarge, compress, decompress, readWorkspace, writeWorkspace } from '../sandbox/workspace-checkpoint.js';
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
}

export interface SnapshotClient {
  putSnapshot(q: { accountId: string; sessionId: string; digest: string; rawBytes: number; grant: string }, data: Buffer): Promise<void>;
  getSnapshot(q: { accountId: string; sessionId: string; grant: string }): Promise<{ data: Buffer; digest: string } | undefined>;
}

/** Created on any terminal host, from the runtime's shared queue. */
export function createSessionStartActivities(d: TerminalDeps) {
  return {
    async createSessionContainer(req: {
      sessionId: string;
      accountId: string;
      firstCommand?: { command: string; timeoutMs: number; streamId?: string; streamGrant?: string };
      /** The session moves here: its latest checkpoint is unpacked into the new container's workspace first. */
      restore?: boolean;
      /** The grant to read that checkpoint (control/host-grants.ts). */
      snapshotGrant?: string;
      /** The account template the session runs in. */
      template?: TemplateRef;
    }): Promise<{ hostQueue: string; hostId: string; containerId: string; first?: HostExecResult; restored?: RestoredCheckpoint }> {
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
          d.containers.started(containerId);
          return { ...taken, ...restored, first: ran };
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

  return {
    async sessionExec(req: { containerId: string; command: string; timeoutMs: number; streamId?: string; streamGrant?: string }): Promise<HostExecResult> {
      return inSession(req, (sink) => d.containers.exec(req.containerId, { command: req.command, timeoutMs: req.timeoutMs, limitBytes: d.outputLimitBytes }, sink));
    },

    async sessionCell(req: { containerId: string; contextId: string; language: Language; code: string; timeoutMs: number; streamId?: string; streamGrant?: string }): Promise<CellResult> {
      return inSession(req, (sink) => d.containers.cell(req.containerId, { ...req, limitBytes: d.outputLimitBytes }, sink));
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

    async sessionFile(req: { containerId: string; op: FileOp }): Promise<FileResult> {
      return count(() => withHeartbeat(() => reportingFailures(() => sessionFileOp(d.docker.getContainer(req.containerId), req.op, { maxBytes: d.fileMaxBytes }))));
    },

    /**
     * Saves the session's workspace to the snapshot store when it differs from the checkpoint named by
     * `lastDigest`. The snapshot goes to the store, never through Temporal: the answer is its digest and size.
     */
    async checkpointSession(req: { containerId: string; accountId: string; sessionId: string; lastDigest?: string; grant?: string }): Promise<CheckpointResult> {
      return withHeartbeat(() => reportingFailures(async () => {
        let ws;
        try {
          ws = await readWorkspace(d.docker.getContainer(req.containerId), d.checkpointMaxBytes);
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode === 404 || (e as { statusCode?: number }).statusCode === 409) throw new DuraboxError('session_lost', 'the session\'s container is gone');
          throw e;
        }
        if (ws === 'too_large') return { outcome: 'too_large' };
        if (ws.digest === req.lastDigest) return { outcome: 'unchanged', digest: ws.digest };
        const data = await compress(ws.tar);
        if (!req.grant) throw new DuraboxError('execution_failed', 'this checkpoint step carries no grant to store it (a session started before grants: it checkpoints again after its next continue-as-new)');
        await d.snapshots.putSnapshot({ accountId: req.accountId, sessionId: req.sessionId, digest: ws.digest, rawBytes: ws.tar.length, grant: req.grant }, data);
        return { outcome: 'saved', digest: ws.digest, raw_bytes: ws.tar.length, bytes: data.length };
      }));
    },

    async removeSessionContainer(req: { containerId: string }): Promise<void> {
      await withHeartbeat(() => d.containers.remove(req.containerId));
    },
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
 * Unpacks the session's latest checkpoint into a container this host just took for it, read under the
 * grant of this restore step. The checkpoint is inflated only up to what the session's workspace can hold
 * (and no more than any checkpoint is made of): past that it is refused whole, as a session error, and
 * this process never holds more.
 */
async function restoreInto(d: TerminalDeps, containerId: string, req: { sessionId: string; accountId: string; snapshotGrant?: string }, workspaceBytes: number): Promise<RestoredCheckpoint> {
  if (!req.snapshotGrant) throw new DuraboxError('session_lost', `the restore of session ${req.sessionId} carries no grant to read its checkpoint`);
  const snap = await d.snapshots.getSnapshot({ accountId: req.accountId, sessionId: req.sessionId, grant: req.snapshotGrant });
  if (!snap) throw new DuraboxError('session_lost', `session ${req.sessionId} has no checkpoint to restore`);
  let tar: Buffer;
  try {
    tar = await decompress(snap.data, snap.digest, Math.min(d.checkpointMaxBytes, workspaceBytes + RESTORE_MARGIN_BYTES));
  } catch (e) {
    throw e instanceof CheckpointTooLarge ? new DuraboxError('invalid_input', e.message) : e;
  }
  const answer = tar.length <= RESTORE_BY_AGENT_BYTES
    ? await d.containers.restore(containerId, tar)
    : await writeWorkspace(d.docker.getContainer(containerId), tar);
  return { digest: snap.digest, raw_bytes: tar.length, ...(answer.refused_count > 0 ? answer : {}) };
}

export type SessionStartActivities = ReturnType<typeof createSessionStartActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;
