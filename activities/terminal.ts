// Terminal sessions on one host. A session's container is created by whichever host takes the start
// activity from the terminal runtime's queue; it answers with its own host queue, where every later
// step of that session (commands, files, removal) is sent.
import { ApplicationFailure } from '@temporalio/activity';
import type Docker from 'dockerode';
import type { RuntimeLimits } from '../workers/config.js';
import type { FileOp, FileResult, HostExecResult } from '../workflows/shared.js';
import { dockerExec } from './docker-exec.js';
import { withHeartbeat } from './heartbeat.js';
import { hardenedHostConfig, sandboxLabels, LABEL_SESSION, SANDBOX_USER } from './sandbox-profile.js';
import { sessionFileOp } from './session-files.js';

export interface TerminalDeps {
  docker: Docker;
  workerId: string;
  hostQueue: string;
  limits: RuntimeLimits;
  outputLimitBytes: number;
  fileMaxBytes: number;
  inflight: Map<string, number>;
}

export const SESSION_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/workspace',
  'LANG=C.UTF-8',
  'TERM=dumb',
];

/** Created on any terminal host, from the runtime's shared queue. */
export function createSessionStartActivities(d: TerminalDeps) {
  return {
    async createSessionContainer(req: { sessionId: string; accountId: string }): Promise<{ hostQueue: string; hostId: string; containerId: string }> {
      const container = await d.docker.createContainer({
        Image: d.limits.image,
        // docker-init reaps orphans; `sleep` keeps the container alive between commands.
        Cmd: ['sleep', 'infinity'],
        User: SANDBOX_USER,
        WorkingDir: '/workspace',
        Env: SESSION_ENV,
        Tty: false,
        NetworkDisabled: !d.limits.network,
        Labels: sandboxLabels(d.workerId, 'terminal', { [LABEL_SESSION]: req.sessionId }),
        HostConfig: { ...hardenedHostConfig(d.limits), AutoRemove: false, Init: true },
      });
      await container.start();
      return { hostQueue: d.hostQueue, hostId: d.workerId, containerId: container.id };
    },
  };
}

/** Served only from this host's own queue. */
export function createHostActivities(d: TerminalDeps) {
  const count = async <T>(work: () => Promise<T>): Promise<T> => {
    d.inflight.set('terminal', (d.inflight.get('terminal') ?? 0) + 1);
    try {
      return await work();
    } finally {
      d.inflight.set('terminal', (d.inflight.get('terminal') ?? 1) - 1);
    }
  };
  const container = (id: string) => d.docker.getContainer(id);

  return {
    async sessionExec(req: { containerId: string; command: string; timeoutMs: number }): Promise<HostExecResult> {
      return count(() => withHeartbeat(async () => {
        const started = Date.now();
        // `timeout` kills the command's whole process group when the time is up; the session lives on.
        const r = await dockerExec(container(req.containerId), {
          cmd: ['timeout', '-s', 'KILL', (req.timeoutMs / 1000).toFixed(3), 'sh', '-lc', req.command],
          user: SANDBOX_USER,
          env: SESSION_ENV,
          workingDir: '/workspace',
          limitBytes: d.outputLimitBytes,
          waitMs: req.timeoutMs + 5_000,
        }).catch((e: { statusCode?: number; message: string }) => {
          if (e.statusCode === 404 || e.statusCode === 409) {
            throw ApplicationFailure.create({ type: 'session_lost', message: 'the session\'s container is gone', nonRetryable: true });
          }
          throw e;
        });
        const timedOut = r.abandoned || (r.exitCode === 137 && Date.now() - started >= req.timeoutMs);
        return {
          stdout: r.stdout.toString('utf8'),
          stderr: r.stderr.toString('utf8'),
          exit_code: r.exitCode,
          stdout_truncated: r.stdoutTruncated,
          stderr_truncated: r.stderrTruncated,
          timed_out: timedOut,
        };
      }));
    },

    async sessionFile(req: { containerId: string; op: FileOp }): Promise<FileResult> {
      return count(() => sessionFileOp(container(req.containerId), req.op, { maxBytes: d.fileMaxBytes }));
    },

    async removeSessionContainer(req: { containerId: string }): Promise<void> {
      await container(req.containerId).remove({ force: true }).catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
    },
  };
}

export type SessionStartActivities = ReturnType<typeof createSessionStartActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;
