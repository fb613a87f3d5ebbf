// A runtime worker: the process on an execution host that owns its Docker daemon's sandboxes and polls
// one Temporal task queue per runtime it serves.
import Docker from 'dockerode';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Config } from './config.js';
import { connectTemporal, temporalClient } from './temporal.js';
import { RegistryClient } from './registry-client.js';
import type { Client } from '@temporalio/client';
import { createActivities } from '../activities/index.js';
import { PythonSandboxPool } from '../activities/python-pool.js';
import { LABEL_SESSION, LABEL_WORKER } from '../activities/sandbox-profile.js';
import { createHostActivities, createSessionStartActivities, type TerminalDeps } from '../activities/terminal.js';
import { SA_SESSION, hostTaskQueue, runtimeTaskQueue } from '../workflows/shared.js';

export interface RuntimeWorker {
  workerId: string;
  inflight: Map<string, number>;
  /** Resolves when every Temporal worker has stopped (after shutdown, or on a fatal error). */
  done: Promise<void>;
  /** Stops taking work, drains, removes its python sandboxes; session containers stay unless told. */
  shutdown(opts?: { removeSessions?: boolean }): Promise<void>;
}

/**
 * Removes containers this worker left behind (a crash, a kill -9): at start and at shutdown. A session's
 * container is kept while its workflow still runs (`keep` says so), so a restarted worker picks its
 * sessions up again; python sandboxes are never kept.
 */
export async function removeLeftovers(docker: Docker, workerId: string, keep: (sessionId: string) => Promise<boolean> = async () => false): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
  let removed = 0;
  for (const c of list) {
    const session = c.Labels?.[LABEL_SESSION];
    if (session && c.State === 'running' && (await keep(session).catch(() => true))) continue;
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}

export async function startRuntimeWorker(config: Config, connection?: NativeConnection): Promise<RuntimeWorker> {
  // No credential the API accepts, no work: this throws before anything starts (spec §4.3).
  const registry = await RegistryClient.connect(config);
  const docker = new Docker();
  await docker.ping();
  const ownsConnection = !connection;
  const conn = connection ?? (await connectTemporal(config));
  const client = temporalClient(conn, config);
  const sessionIsLive = (sessionId: string) => sessionWorkflowRuns(client, sessionId);
  const left = await removeLeftovers(docker, config.workerId, sessionIsLive);
  if (left > 0) console.log(`runtime worker ${config.workerId}: removed ${left} leftover container(s)`);

  const inflight = new Map<string, number>();
  const python = new PythonSandboxPool({
    docker,
    workerId: config.workerId,
    limits: config.python,
    warm: config.runtimes.includes('python') ? config.maxInflight : 0,
    maxUses: config.sandboxMaxUses,
    outputLimitBytes: config.outputLimitBytes,
  });
  python.refill();
  const terminalDeps: TerminalDeps = {
    docker,
    workerId: config.workerId,
    hostQueue: hostTaskQueue(config.workerId),
    limits: config.terminal,
    outputLimitBytes: config.outputLimitBytes,
    fileMaxBytes: config.session.fileMaxBytes,
    inflight,
  };

  // One Temporal worker per queue: each runtime's shared queue, plus this host's own queue, where the
  // steps of the sessions it holds arrive. Those are short waits on `docker exec`, so they get more slots.
  const queues: Array<{ taskQueue: string; activities: object; slots: number }> = [];
  if (config.runtimes.includes('python')) {
    queues.push({ taskQueue: runtimeTaskQueue('python'), activities: createActivities({ python, inflight }), slots: config.maxInflight });
  }
  if (config.runtimes.includes('terminal')) {
    queues.push({ taskQueue: runtimeTaskQueue('terminal'), activities: createSessionStartActivities(terminalDeps), slots: config.maxInflight });
    queues.push({ taskQueue: terminalDeps.hostQueue, activities: createHostActivities(terminalDeps), slots: Math.max(64, config.maxInflight * 16) });
  }
  const workers = await Promise.all(
    queues.map((q) =>
      Worker.create({
        connection: conn,
        namespace: config.temporalNamespace,
        taskQueue: q.taskQueue,
        identity: config.workerId,
        activities: q.activities,
        maxConcurrentActivityTaskExecutions: q.slots,
        // Long-running sandboxes report through heartbeats; let the SDK send them promptly.
        defaultHeartbeatThrottleInterval: '500ms',
        shutdownGraceTime: '10s',
      }),
    ),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);

  let stopping: Promise<void> | undefined;
  const worker: RuntimeWorker = {
    workerId: config.workerId,
    inflight,
    done,
    shutdown(opts = {}) {
      stopping ??= (async () => {
        await registry.close();
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await done.catch(() => undefined);
        await python.close();
        await removeLeftovers(docker, config.workerId, opts.removeSessions ? undefined : sessionIsLive);
        if (ownsConnection) await conn.close();
      })();
      return stopping;
    },
  };
  // A deleted credential: the next heartbeat is refused; stop polling and drain what runs. This id
  // cannot come back, so its session containers go too.
  registry.startHeartbeats(inflight, (e) => {
    console.error(`${e.message}: stopping`);
    void worker.shutdown({ removeSessions: true });
  });
  return worker;
}

/** Whether a session's workflow still runs (its container must then survive a worker restart). */
async function sessionWorkflowRuns(client: Client, sessionId: string): Promise<boolean> {
  const q = `WorkflowType = 'sessionWorkflow' AND ${SA_SESSION.name} = '${sessionId.replace(/'/g, '')}' AND ExecutionStatus = 'Running'`;
  return (await client.workflow.count(q)).count > 0;
}
