// Starts the control plane: database, Temporal namespace, control worker and the HTTP server
// (REST + MCP). `npm run api` runs just this; `npm start` runs it beside a dev server and a worker.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Config } from '../workers/config.js';
import { connectTemporal, prepareNamespace, temporalClient } from '../workers/temporal.js';
import { createControlWorker } from '../workers/control-worker.js';
import { openDb } from '../db/index.js';
import { AccountStore } from '../db/accounts.js';
import { WorkerStore } from '../db/workers.js';
import { LoginLimiter } from './login-limiter.js';
import { TaskService } from './task-service.js';
import { SessionService } from './session-service.js';
import { createControlActivities } from '../activities/control.js';
import { createApp } from './server.js';
import { generatePassword, hashPassword, newId } from './security.js';
import type { AppDeps } from './context.js';

export interface ApiPlatform {
  url: string;
  deps: AppDeps;
  /** Set when this start created the first admin and generated its password. */
  firstAdmin?: { username: string; password: string; generated: boolean };
  close(): Promise<void>;
}

export async function startApiPlatform(config: Config, opts: { connection?: NativeConnection } = {}): Promise<ApiPlatform> {
  if (!config.hashKey) throw new Error('DURABOX_HASH_KEY is required: the key that hashes access tokens and worker secrets');
  const db = await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const connection = opts.connection ?? (await connectTemporal(config));
  await prepareNamespace(connection, config);
  const client = temporalClient(connection, config);
  const accounts = new AccountStore(db);
  const workers = new WorkerStore(db);
  const deps: AppDeps = {
    config, hashKey: config.hashKey, db, accounts, workers, loginLimiter: new LoginLimiter(),
    tasks: new TaskService(client, connection, config, workers), client, connection,
  } as AppDeps;
  deps.sessions = new SessionService(client, config, (runtime) => deps.tasks.runtimeHasWorker(runtime));
  const firstAdmin = await ensureFirstAdmin(accounts, config);

  const controlWorker: Worker = await createControlWorker(connection, config, createControlActivities({ sessions: deps.sessions }));
  const controlDone = controlWorker.run();

  const server: Server = createServer(createApp(deps).callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.httpPort, config.httpHost, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? '127.0.0.1' : config.httpHost;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    deps,
    firstAdmin,
    close() {
      closing ??= (async () => {
        await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
        if (controlWorker.getState() === 'RUNNING') controlWorker.shutdown();
        await controlDone.catch(() => undefined);
        if (!opts.connection) await connection.close();
        await db.destroy();
      })();
      return closing;
    },
  };
}

async function ensureFirstAdmin(accounts: AccountStore, config: Config): Promise<ApiPlatform['firstAdmin']> {
  if ((await accounts.count()) > 0) return undefined;
  const username = config.adminUsername ?? 'admin';
  const password = config.adminPassword ?? generatePassword();
  await accounts.create({ id: newId('acc'), username, passwordHash: await hashPassword(password), isAdmin: true });
  return { username, password, generated: !config.adminPassword };
}
