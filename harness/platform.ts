// The real platform for the tests and the bench: a Temporal dev server (fresh SQLite), a database
// (a fresh PostgreSQL database, or the embedded PGlite that `npm start` uses), the API with its control
// worker in this process, and runtime workers as child processes on the real Docker. The in-process
// API's log lines are kept in `apiLog` (warnings and errors also go to the screen), as a worker's are in
// its `output()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { lookup } from 'node:dns/promises';
import Docker from 'dockerode';
import pg from 'pg';
import proto from '@temporalio/proto';
import { startApiPlatform, type ApiPlatform } from '../api/platform.js';
import { DEFAULT_BUILD_INDEXES, loadConfig, loadDevSettings, type Config } from '../config/index.js';
import { sendLogLinesTo } from '../config/log.js';
import { repoRoot } from '../config/paths.js';
import { runtimeTaskQueue } from '../contract/queues.js';
import { generateToken, generateWorkerSecret, hashPassword, keyedHash, maskToken, newId } from '../control/security.js';
import type { Account } from '../db/accounts.js';
import { removeLeftovers } from '../sandbox/leftovers.js';
import { LABEL_WORKER } from '../sandbox/profile.js';
import { startTemporalDevServer, type DevServer } from '../temporal/dev-server.js';
import type { Tracing } from '../telemetry/tracing.js';

const { temporal } = proto;

/** A server where the test role may create databases; each run gets a database of its own. */
export const TEST_DATABASE_SERVER = 'postgres://durabox:durabox@127.0.0.1:5432/durabox_test';
export const HASH_KEY = 'test-hash-key-0123456789abcdef';
/** 32 bytes, base64: the key that seals the test platform's Temporal payloads. */
export const PAYLOAD_KEY = Buffer.from('durabox-test-payload-key-32bytes').toString('base64');
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

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin(server: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: server });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A fresh database for this run, so runs side by side never share state. */
export async function createTestDatabase(server = TEST_DATABASE_SERVER): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `durabox_run_${process.pid}_${Date.now()}`;
  await admin(server, `create database ${name}`);
  return { url: withDatabase(server, name), drop: () => admin(server, `drop database if exists ${name} with (force)`) };
}

export interface HarnessOptions {
  /** `postgres` (default): a fresh database on `databaseServer`; `embedded`: PGlite in the data dir, as `npm start`. */
  database?: 'postgres' | 'embedded';
  databaseServer?: string;
  /** Environment settings over the test settings below (the bench runs with the product's defaults). */
  settings?: Record<string, string>;
  /** Check every answer against its operation record (default true; the bench measures without it). */
  checkResponses?: boolean;
  /**
   * Runs `npm run gateway` and has every worker reach Temporal through it with its host certificate
   * (default: with PostgreSQL, as production runs; the embedded database serves one process only).
   */
  gateway?: boolean;
  /**
   * Tracing for the API in this process (its requests, client calls, workflows and control activities);
   * workers get theirs from the OTEL_* settings their `startWorker` env names. Default: none.
   */
  tracing?: Tracing;
}

export interface GatewayProcess {
  address: string;
  child: ChildProcess;
  output: () => string;
}

export interface ApiProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface RuntimeWorkerProcess {
  id: string;
  child: ChildProcess;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export class PlatformHarness {
  dataDir = mkdtempSync(join(tmpdir(), 'durabox-test-'));
  devServer!: DevServer;
  database: { url: string | undefined; drop(): Promise<void> } | undefined;
  api!: ApiPlatform;
  config!: Config;
  docker = new Docker();
  workers = new Map<string, RuntimeWorkerProcess>();
  gateway: GatewayProcess | undefined;
  /** The settings the in-process API started with (another API process of this platform gets the same). */
  env: Record<string, string> = {};
  /** Every JSON line this process logged since the platform started (the API's, its control worker's, the SDK's). */
  apiLog: string[] = [];
  private workerIds = new Set<string>();
  private indexAddresses?: Promise<string[]>;
  /** Worker ids carry the run's pid: two runs on one Docker daemon never touch each other's sandboxes. */
  readonly runTag = `r${process.pid}`;
  private readonly temporalCli = loadDevSettings().temporalCli;

  async start(opts: HarnessOptions = {}): Promise<void> {
    sendLogLinesTo((line) => {
      this.apiLog.push(line);
      // A request per line would bury the test report; what went wrong still shows.
      if (/^\{"level":"(warn|error|fatal)"/.test(line)) process.stdout.write(line);
    });
    const port = await freePort();
    const settings = opts.settings ?? {};
    this.devServer = await startTemporalDevServer({ dataDir: this.dataDir, port, uiPort: await freePort(), metricsPort: await freePort(), headless: true, cli: this.temporalCli });
    this.database = opts.database === 'embedded'
      ? { url: undefined, drop: async () => undefined }
      : await createTestDatabase(opts.databaseServer);
    const gateway = (opts.gateway ?? true) && this.database.url ? `127.0.0.1:${await freePort()}` : undefined;
    this.env = {
        // A fixed port, so workers still reach the API after a test restarts it.
        DURABOX_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
        DURABOX_DATA_DIR: this.dataDir,
        ...(this.database.url ? { DATABASE_URL: this.database.url } : {}),
        TEMPORAL_ADDRESS: this.devServer.address,
        DURABOX_HASH_KEY: HASH_KEY,
        DURABOX_PAYLOAD_KEY: PAYLOAD_KEY,
        DURABOX_ADMIN_USERNAME: ADMIN.username,
        DURABOX_ADMIN_PASSWORD: ADMIN.password,
        // Short, so the test of a killed worker does not wait long for Temporal to notice.
        DURABOX_ACTIVITY_HEARTBEAT_TIMEOUT_MS: '3000',
        // Short session bounds, so lease expiry and host loss are seen in seconds.
        DURABOX_SESSION_LEASE_MIN_SEC: '1',
        DURABOX_SESSION_LEASE_DEFAULT_SEC: '30',
        DURABOX_SESSION_LEASE_MAX_SEC: '600',
        DURABOX_SESSION_HOST_TIMEOUT_MS: '2000',
        // Workers report every second here: one silent for 6 s is gone (a restart within that keeps its sessions).
        DURABOX_SESSION_HOST_GONE_SEC: '6',
        // Few commands per run, so continue-as-new happens within a test.
        DURABOX_SESSION_COMMANDS_PER_RUN: '5',
        // Checkpoints a second after a change, so a host loss in a test restores what the test just wrote.
        DURABOX_SESSION_CHECKPOINT_SEC: '1',
        ...(gateway ? { DURABOX_HOST_GATEWAY: gateway } : {}),
        ...settings,
      };
    this.config = loadConfig(this.env);
    // The API makes the host CA in the data dir at its first start; the gateway then reads it.
    this.api = await startApiPlatform(this.config.api, this.config.temporal, { checkResponses: opts.checkResponses ?? true, tracing: opts.tracing });
    if (gateway) this.gateway = await this.startGateway(gateway);
  }

  /** `npm run gateway` as its own process, as beside a production Temporal. */
  async startGateway(address: string): Promise<GatewayProcess> {
    let out = '';
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'gateway', 'main.js')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        DURABOX_GATEWAY_ADDR: address,
        TEMPORAL_ADDRESS: this.devServer.address,
        DATABASE_URL: this.database!.url!,
        DURABOX_DATA_DIR: this.dataDir,
        DURABOX_GATEWAY_RECHECK_SEC: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const until = Date.now() + 30_000;
    while (!out.includes('durabox host gateway')) {
      if (child.exitCode !== null) throw new Error(`the host gateway exited: ${out}`);
      if (Date.now() > until) throw new Error(`the host gateway never started: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { address, child, output: () => out };
  }

  get url(): string {
    return this.api.url;
  }

  workerId(name: string): string {
    return `${name}-${this.runTag}`;
  }

  /**
   * Starts a runtime worker as a separate process, as a host would, and waits until it polls. `program`
   * is what runs it: this tree's `dist/workers/runtime.js` unless given (an installed `durabox worker`).
   */
  /** The IPv4 addresses this machine resolves the default package indexes to, each as a /32. */
  packageIndexAddresses(): Promise<string[]> {
    this.indexAddresses ??= (async () => {
      const names = [...new Set(DEFAULT_BUILD_INDEXES.map((e) => e.slice(0, e.lastIndexOf(':'))))];
      const found = await Promise.all(names.map((n) => lookup(n, { all: true, family: 4 }).catch(() => [])));
      return [...new Set(found.flat().map((a) => `${a.address}/32`))];
    })();
    return this.indexAddresses;
  }

  async startWorker(name: string, env: Record<string, string> = {}, program: string[] = [join(repoRoot, 'dist', 'workers', 'runtime.js')]): Promise<RuntimeWorkerProcess> {
    const id = env.DURABOX_WORKER_ID ?? this.workerId(name);
    // Each worker gets a credential, as POST /workers would give one; a test may bring its own instead.
    let secret = env.DURABOX_WORKER_SECRET;
    if (secret === undefined) {
      secret = generateWorkerSecret();
      await this.api.deps.workers.putCredential({ nodeId: id, secretHash: keyedHash(HASH_KEY, secret) });
    }
    // Template builds reach the package indexes through the egress proxy, which by default refuses private
    // and reserved addresses: where this machine's DNS sends the indexes to such an address (a TLS-re-signing
    // path), its operator opens just those addresses, and so does every worker here.
    const privateCidrs = [...(env.DURABOX_EGRESS_PRIVATE_CIDRS ?? '').split(','), ...(await this.packageIndexAddresses())].filter(Boolean);
    let out = '';
    const child = spawn(process.execPath, program, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        TEMPORAL_ADDRESS: this.devServer.address,
        DURABOX_API_URL: this.url,
        DURABOX_WORKER_ID: id,
        DURABOX_WORKER_SECRET: secret,
        DURABOX_RUNTIMES: 'python,terminal',
        DURABOX_MAX_INFLIGHT: '2',
        // Sessions that end without their host's help are cleaned up within seconds.
        DURABOX_REAP_INTERVAL_SEC: '2',
        // Reports every second, so a host silent for DURABOX_SESSION_HOST_GONE_SEC (6 s here) is surely gone.
        DURABOX_HEARTBEAT_INTERVAL_SEC: '1',
        DURABOX_DATA_DIR: this.dataDir,
        ...env,
        ...(privateCidrs.length > 0 ? { DURABOX_EGRESS_PRIVATE_CIDRS: [...new Set(privateCidrs)].join(',') } : {}),
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
        this.workers.delete(name);
      },
    };
    this.workers.set(name, w);
    this.workerIds.add(id);
    const runtimes = (env.DURABOX_RUNTIMES ?? 'python,terminal').split(',');
    const failed = () => (child.exitCode !== null ? `worker ${id} exited: ${out}` : undefined);
    // A worker restarted under the same id still has its predecessor's pollers listed for a while:
    // wait for this process to say it serves, then for its pollers.
    const until = Date.now() + 60_000;
    while (!out.includes(`runtime worker ${id} serving`)) {
      const f = failed();
      if (f) throw new Error(f);
      if (Date.now() > until) throw new Error(`worker ${id} never said it was serving: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const rt of runtimes) await this.waitForPoller(id, rt, failed);
    return w;
  }

  /** A host lost for good: its worker killed with -9 and every container it held removed. */
  async loseHost(name: string): Promise<void> {
    const w = this.workers.get(name);
    if (!w) throw new Error(`no worker ${name}`);
    await w.stop('SIGKILL');
    for (const c of await this.docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${w.id}`] } })) {
      // Some end by themselves meanwhile (warm containers stop once their worker stops pinging).
      await this.docker.getContainer(c.Id).remove({ force: true }).catch((e: { statusCode?: number }) => { if (e.statusCode !== 404 && e.statusCode !== 409) throw e; });
    }
  }

  async waitForPoller(identity: string, runtime: string, failed: () => string | undefined = () => undefined): Promise<void> {
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const f = failed();
      if (f) throw new Error(f);
      const res = await this.api.deps.connection.workflowService.describeTaskQueue({
        namespace: this.config.temporal.namespace,
        taskQueue: { name: runtimeTaskQueue(runtime) },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      if ((res.pollers ?? []).some((p) => p.identity === identity)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`worker ${identity} never polled ${runtime}`);
  }

  /** Stops the Temporal dev server (SIGTERM, or `SIGKILL`: a crash) and starts it again on the same port and SQLite file. */
  async restartTemporal(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const [, port] = this.devServer.address.split(':');
    await this.devServer.stop(signal);
    this.devServer = await startTemporalDevServer({ dataDir: this.dataDir, port: Number(port), uiPort: await freePort(), metricsPort: await freePort(), headless: true, cli: this.temporalCli });
  }

  /**
   * `npm run api` as a process of its own beside the in-process one, on the same database and Temporal
   * (as a second API replica runs), so a test can kill it with -9. `settings` go over the platform's.
   */
  async startApiProcess(address: string, settings: Record<string, string> = {}): Promise<ApiProcess> {
    let out = '';
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'api', 'main.js')], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...this.env, TEMPORAL_ADDRESS: this.devServer.address, DURABOX_HTTP_ADDR: address, ...settings },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const until = Date.now() + 60_000;
    while (!out.includes('durabox API')) {
      if (child.exitCode !== null) throw new Error(`the API process exited: ${out}`);
      if (Date.now() > until) throw new Error(`the API process never started: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return {
      url: `http://${address}`,
      child,
      output: () => out,
      stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
  }

  /** A second (non-admin) account with a token of its own: whose view of the first account's ids must be empty. */
  async otherAccount(prefix = 'other'): Promise<{ account: Account; token: string; tokenId: string }> {
    const accounts = this.api.deps.accounts;
    const account = await accounts.create({ id: newId('acc'), username: `${prefix}-${process.pid}-${++this.accountCounter}`, passwordHash: await hashPassword('pw'), isAdmin: false });
    const token = generateToken();
    const row = await accounts.createToken({ id: newId('tok'), accountId: account.id, name: prefix, tokenHash: keyedHash(HASH_KEY, token), masked: maskToken(token), generated: false });
    return { account, token, tokenId: row.id };
  }

  private accountCounter = 0;

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    if (this.gateway && this.gateway.child.exitCode === null) {
      const exited = new Promise((r) => this.gateway!.child.once('exit', r));
      this.gateway.child.kill('SIGTERM');
      await exited;
    }
    await this.api?.close();
    await this.devServer?.stop();
    await this.database?.drop();
    for (const id of this.workerIds) await removeLeftovers(this.docker, id).catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
