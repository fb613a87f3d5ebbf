// The real things every test runs against: a Temporal dev server (fresh SQLite), PostgreSQL, the API
// with its control worker in this process, and runtime workers as child processes on the real Docker.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import Docker from 'dockerode';
import pg from 'pg';
import { loadConfig, type Config } from '../../workers/config.js';
import { startTemporalDevServer, type DevServer } from '../../workers/temporal-dev-server.js';
import { startApiPlatform, type ApiPlatform } from '../../api/platform.js';
import { repoRoot } from '../../workers/paths.js';
import { runtimeTaskQueue } from '../../workflows/shared.js';
import { removeLeftovers } from '../../workers/runtime-worker.js';
import proto from '@temporalio/proto';

const { temporal } = proto;

export const TEST_DATABASE_URL = process.env.DURABOX_TEST_DATABASE_URL ?? 'postgres://durabox:durabox@127.0.0.1:5432/durabox_test';
export const HASH_KEY = 'test-hash-key-0123456789abcdef';
export const ADMIN = { username: 'admin', password: 'admin-password-for-tests' };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** Empties the test database so every run starts from the first admin. */
export async function resetDatabase(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('drop schema public cascade');
    await c.query('create schema public');
  } finally {
    await c.end();
  }
}

export interface RuntimeWorkerProcess {
  id: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export class TestPlatform {
  dataDir = mkdtempSync(join(tmpdir(), 'durabox-test-'));
  devServer!: DevServer;
  api!: ApiPlatform;
  config!: Config;
  docker = new Docker();
  workers = new Map<string, RuntimeWorkerProcess>();

  async start(): Promise<void> {
    const port = await freePort();
    this.devServer = await startTemporalDevServer({ dataDir: this.dataDir, port, uiPort: await freePort(), headless: true });
    await resetDatabase(TEST_DATABASE_URL);
    this.config = {
      ...loadConfig({
        DURABOX_HTTP_ADDR: '127.0.0.1:0',
        DURABOX_DATA_DIR: this.dataDir,
        DATABASE_URL: TEST_DATABASE_URL,
        TEMPORAL_ADDRESS: this.devServer.address,
        DURABOX_HASH_KEY: HASH_KEY,
        DURABOX_ADMIN_USERNAME: ADMIN.username,
        DURABOX_ADMIN_PASSWORD: ADMIN.password,
        // Short, so the test of a killed worker does not wait long for Temporal to notice.
        DURABOX_ACTIVITY_HEARTBEAT_TIMEOUT_MS: '3000',
      }),
    };
    this.api = await startApiPlatform(this.config);
  }

  get url(): string {
    return this.api.url;
  }

  /** Starts `npm run worker` as a separate process, as a host would, and waits until it polls. */
  async startWorker(id: string, env: Record<string, string> = {}): Promise<RuntimeWorkerProcess> {
    let out = '';
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'workers', 'runtime.js')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        TEMPORAL_ADDRESS: this.devServer.address,
        DURABOX_WORKER_ID: id,
        DURABOX_RUNTIMES: 'python',
        DURABOX_MAX_INFLIGHT: '2',
        DURABOX_DATA_DIR: this.dataDir,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const w: RuntimeWorkerProcess = {
      id,
      child,
      output: () => out,
      stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
        this.workers.delete(id);
      },
    };
    this.workers.set(id, w);
    await this.waitForPoller(id, 'python', () => (child.exitCode !== null ? `worker ${id} exited: ${out}` : undefined));
    return w;
  }

  async waitForPoller(identity: string, runtime: string, failed: () => string | undefined = () => undefined): Promise<void> {
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const f = failed();
      if (f) throw new Error(f);
      const res = await this.api.deps.connection.workflowService.describeTaskQueue({
        namespace: this.config.temporalNamespace,
        taskQueue: { name: runtimeTaskQueue(runtime) },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      if ((res.pollers ?? []).some((p) => p.identity === identity)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`worker ${identity} never polled ${runtime}`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    await this.api?.close();
    await this.devServer?.stop();
    for (const id of ['w-main', 'w-a', 'w-b']) await removeLeftovers(this.docker, id).catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
