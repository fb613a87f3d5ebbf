// Terminal sessions on one host. A session's container is created by whichever host takes the start
// activity from the terminal runtime's queue; it answers with its own host queue, where every later
// step of that session (commands, files, removal) is sent.
import type Docker from 'dockerode';
import { DuraboxError } from '../contract/errors.js';
import type { CellResult, FileOp, FileResult, HostExecResult, Language } from '../contract/messages.js';
import { SessionGone, type SessionContainers } from '../sandbox/session-containers.js';
import { sessionFileOp } from '../sandbox/session-files.js';
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
      return count(() => withHeartbeat(() => reportingFailures(async () => {
        try {
          return await d.containers.exec(req.containerId, { command: req.command, timeoutMs: req.timeoutMs, limitBytes: d.outputLimitBytes });
        } catch (e) {
          throw e instanceof SessionGone ? new DuraboxError('session_lost', e.message) : e;
        }
      })));
    },

    async sessionCell(req: { containerId: string; contextId: string; language: Language; code: string; timeoutMs: number }): Promise<CellResult> {
      return count(() => withHeartbeat(() => reportingFailures(async () => {
        try {
          return await d.containers.cell(req.containerId, { ...req, limitBytes: d.outputLimitBytes });
        } catch (e) {
          throw e instanceof SessionGone ? new DuraboxError('session_lost', e.message) : e;
        }
      })));
    },

    async dropContext(req: { containerId: string; contextId: string }): Promise<void> {
      await reportingFailures(async () => {
        try {
          await d.containers.dropContext(req.containerId, req.contextId);
        } catch (e) {
          throw e instanceof SessionGone ? new DuraboxError('session_lost', e.message) : e;
        }
      });
    },

    async sessionFile(req: { containerId: string; op: FileOp }): Promise<FileResult> {
      return count(() => reportingFailures(() => sessionFileOp(d.docker.getContainer(req.containerId), req.op, { maxBytes: d.fileMaxBytes })));
    },

    async removeSessionContainer(req: { containerId: string }): Promise<void> {
      await d.containers.remove(req.containerId);
    },
  };
}

export type SessionStartActivities = ReturnType<typeof createSessionStartActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;
