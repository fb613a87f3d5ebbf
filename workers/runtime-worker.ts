// A runtime worker: the process on an execution host that owns its Docker daemon's sandboxes and polls
// one Temporal task queue per runtime it serves.
import Docker from 'dockerode';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { Config } from './config.js';
import { connectTemporal } from './temporal.js';
import { createActivities } from '../activities/index.js';
import { PythonSandboxPool } from '../activities/python-pool.js';
import { LABEL_WORKER } from '../activities/sandbox-profile.js';
import { runtimeTaskQueue } from '../workflows/shared.js';

export interface RuntimeWorker {
  workerId: string;
  inflight: Map<string, number>;
  /** Resolves when every Temporal worker has stopped (after shutdown, or on a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/** Removes containers this worker left behind (a crash, a kill -9): at start and at shutdown. */
export async function removeLeftovers(docker: Docker, workerId: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  return list.length;
}

export async function startRuntimeWorker(config: Config, connection?: NativeConnection): Promise<RuntimeWorker> {
  const docker = new Docker();
  await docker.ping();
  const left = await removeLeftovers(docker, config.workerId);
  if (left > 0) console.log(`runtime worker ${config.workerId}: removed ${left} leftover container(s)`);

  const ownsConnection = !connection;
  const conn = connection ?? (await connectTemporal(config));
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
  const activities = createActivities({ python, inflight });

  const servedQueues = config.runtimes.filter((r) => r === 'python').map(runtimeTaskQueue);
  const workers = await Promise.all(
    servedQueues.map((taskQueue) =>
      Worker.create({
        connection: conn,
        namespace: config.temporalNamespace,
        taskQueue,
        identity: config.workerId,
        activities,
        maxConcurrentActivityTaskExecutions: config.maxInflight,
        // Long-running sandboxes report through heartbeats; let the SDK send them promptly.
        defaultHeartbeatThrottleInterval: '500ms',
        shutdownGraceTime: '10s',
      }),
    ),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);

  let stopping: Promise<void> | undefined;
  return {
    workerId: config.workerId,
    inflight,
    done,
    shutdown() {
      stopping ??= (async () => {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await done.catch(() => undefined);
        await python.close();
        await removeLeftovers(docker, config.workerId);
        if (ownsConnection) await conn.close();
      })();
      return stopping;
    },
  };
}
