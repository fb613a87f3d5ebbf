// Terminal sessions on one host. A session's container is created by whichever host takes the start
// activity from the terminal runtime's queue; it answers with its own host queue, where every later
// step of that session (commands, files, removal) is sent.
import type Docker from 'dockerode';
import { DuraboxError } from '../contract/errors.js';
import type { CellResult, FileOp, FileResult, HostExecResult, Language } from '../contract/messages.js';
import type { OnChunk } from '../sandbox/frame-channel.js';
import { HostFull, SessionGone, type SessionContainers } from '../sandbox/session-containers.js';
import { sessionFileOp } from '../sandbox/session-files.js';
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
}

/** Created on any terminal host, from the runtime's shared queue. */
export function createSessionStartActivities(d: TerminalDeps) {
  return {
    async createSessionContainer(req: { sessionId: string; accountId: string; firstCommand?: { command: string; timeoutMs: number; streamId?: string } }): Promise<{ hostQueue: string; hostId: string; containerId: string; first?: HostExecResult }> {
      // Heartbeats from the first instant: creating a container on a loaded host can take seconds.
      return withHeartbeat(() => reportingFailures(async () => {
        let containerId: string;
        try {
          containerId = await d.containers.take();
        } catch (e) {
          throw e instanceof HostFull ? new DuraboxError('host_full', e.message) : e;
        }
        const taken = { hostQueue: d.hostQueue, hostId: d.workerId, containerId };
        const first = req.firstCommand;
        if (!first) {
          d.containers.started(containerId);
          return taken;
        }
        try {
          const sink = first.streamId ? d.output?.sink(first.streamId) : undefined;
          const ran = await d.containers.exec(containerId, { command: first.command, timeoutMs: first.timeoutMs, limitBytes: d.outputLimitBytes }, sink);
          if (first.streamId) d.output?.finish(first.streamId);
          d.containers.started(containerId);
          return { ...taken, first: ran };
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

  /** A step running the user's work in a session, its output forwarded to `streamId` when one is named. */
  const inSession = <T>(streamId: string | undefined, work: (sink: OnChunk | undefined) => Promise<T>) =>
    count(() => withHeartbeat(() => reportingFailures(async () => {
      try {
        return await work(streamId ? d.output?.sink(streamId) : undefined);
      } catch (e) {
        throw e instanceof SessionGone ? new DuraboxError('session_lost', e.message) : e;
      } finally {
        if (streamId) d.output?.finish(streamId);
      }
    })));

  return {
    async sessionExec(req: { containerId: string; command: string; timeoutMs: number; streamId?: string }): Promise<HostExecResult> {
      return inSession(req.streamId, (sink) => d.containers.exec(req.containerId, { command: req.command, timeoutMs: req.timeoutMs, limitBytes: d.outputLimitBytes }, sink));
    },

    async sessionCell(req: { containerId: string; contextId: string; language: Language; code: string; timeoutMs: number; streamId?: string }): Promise<CellResult> {
      return inSession(req.streamId, (sink) => d.containers.cell(req.containerId, { ...req, limitBytes: d.outputLimitBytes }, sink));
    },

    // Every step heartbeats while it waits: a slow one is never mistaken for a lost host.
    async dropContext(req: { containerId: string; contextId: string }): Promise<void> {
      await withHeartbeat(() => reportingFailures(async () => {
        try {
          await d.containers.dropContext(req.containerId, req.contextId);
        } catch (e) {
          throw e instanceof SessionGone ? new DuraboxError('session_lost', e.message) : e;
        }
      }));
    },

    async sessionFile(req: { containerId: string; op: FileOp }): Promise<FileResult> {
      return count(() => withHeartbeat(() => reportingFailures(() => sessionFileOp(d.docker.getContainer(req.containerId), req.op, { maxBytes: d.fileMaxBytes }))));
    },

    async removeSessionContainer(req: { containerId: string }): Promise<void> {
      await withHeartbeat(() => d.containers.remove(req.containerId));
    },
  };
}

export type SessionStartActivities = ReturnType<typeof createSessionStartActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;
