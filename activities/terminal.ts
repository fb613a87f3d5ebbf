// Terminal sessions on one host. A session's container is created by whichever host takes the start
// activity from the terminal runtime's queue; it answers with its own host queue, where every later
// step of that session (commands, files, removal) is sent.
import { ApplicationFailure } from '@temporalio/activity';
import type Docker from 'dockerode';
import type { FileOp, FileResult, HostExecResult } from '../workflows/shared.js';
import { countedInflight, withHeartbeat } from './heartbeat.js';
import { SessionGone, type SessionContainers } from './session-containers.js';
import { sessionFileOp } from './session-files.js';

export interface TerminalDeps {
  docker: Docker;
  workerId: string;
  hostQueue: string;
  containers: SessionContainers;
  outputLimitBytes: number;
  fileMaxBytes: number;
  inflight: Map<string, number>;
}

/** Created on any terminal host, from the runtime's shared queue. */
export function createSessionStartActivities(d: TerminalDeps) {
  return {
    async createSessionContainer(req: { sessionId: string; accountId: string; firstCommand?: { command: string; timeoutMs: number } }): Promise<{ hostQueue: string; hostId: string; containerId: string; first?: HostExecResult }> {
      // Heartbeats from the first instant: creating a container on a loaded host can take seconds.
      return withHeartbeat(async () => {
        const containerId = await d.containers.take();
        const taken = { hostQueue: d.hostQueue, hostId: d.workerId, containerId };
        const first = req.firstCommand;
        if (!first) return taken;
        try {
          return { ...taken, first: await d.containers.exec(containerId, { command: first.command, timeoutMs: first.timeoutMs, limitBytes: d.outputLimitBytes }) };
        } catch (e) {
          // No session will ever own this container: do not leave it behind.
          await d.containers.remove(containerId).catch(() => undefined);
          throw e;
        }
      });
    },
  };
}

/** Served only from this host's own queue. */
export function createHostActivities(d: TerminalDeps) {
  const count = <T>(work: () => Promise<T>) => countedInflight(d.inflight, 'terminal', work);

  return {
    async sessionExec(req: { containerId: string; command: string; timeoutMs: number }): Promise<HostExecResult> {
      return count(() => withHeartbeat(async () => {
        try {
          return await d.containers.exec(req.containerId, { command: req.command, timeoutMs: req.timeoutMs, limitBytes: d.outputLimitBytes });
        } catch (e) {
          if (e instanceof SessionGone) throw ApplicationFailure.create({ type: 'session_lost', message: e.message, nonRetryable: true });
          throw e;
        }
      }));
    },

    async sessionFile(req: { containerId: string; op: FileOp }): Promise<FileResult> {
      return count(() => sessionFileOp(d.docker.getContainer(req.containerId), req.op, { maxBytes: d.fileMaxBytes }));
    },

    async removeSessionContainer(req: { containerId: string }): Promise<void> {
      await d.containers.remove(req.containerId);
    },
  };
}

export type SessionStartActivities = ReturnType<typeof createSessionStartActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;
