// The control plane without HTTP: database, Temporal connection and namespace, the task and session
// services, and the control worker that runs every workflow. The API serves it; `npm start` and the
// test harness start it through the API.
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { join } from 'node:path';
import type { ApiSettings, TemporalSettings } from '../config/index.js';
import { componentLog, errorFields } from '../config/log.js';
import { AccountStore } from '../db/accounts.js';
import { openDb, type Db } from '../db/index.js';
import { OutputStore } from '../db/output.js';
import { SnapshotStore } from '../db/snapshots.js';
import { openPartBlobs, S3Blobs } from '../db/snapshot-blobs.js';
import { TemplateStore } from '../db/templates.js';
import { WorkerStore } from '../db/workers.js';
import { HostCa } from '../temporal/certs.js';
import { connectTemporal, prepareNamespace, temporalClient } from '../temporal/connection.js';
import type { Tracing } from '../telemetry/tracing.js';
import { createControlActivities } from './activities.js';
import { createControlWorker } from './control-worker.js';
import { Quotas } from './quotas.js';
import { generatePassword, hashPassword, newId, writeSecretFile } from './security.js';
import { SessionService } from './session-service.js';
import { TaskService } from './task-service.js';
import { TemplateService } from './template-service.js';
import { TunnelClient } from '../tunnel/client.js';

const log = componentLog('control-worker');

/** Where a generated first admin password is written, in the data dir. */
export const FIRST_ADMIN_PASSWORD_FILE = 'first-admin-password';

export interface FirstAdmin {
  username: string;
  /** `<data dir>/first-admin-password` (mode 0600) when the password was generated; unset when DURABOX_ADMIN_PASSWORD gave it. */
  passwordFile?: string;
}

export interface ControlPlane {
  api: ApiSettings;
  temporal: TemporalSettings;
  /** HMAC key of tokens, worker secrets and login sessions. */
  hashKey: string;
  db: Db;
  accounts: AccountStore;
  /** The host registry: worker credentials and what each worker last reported. */
  workers: WorkerStore;
  tasks: TaskService;
  sessions: SessionService;
  /** Per-account limits, checked where work is admitted. */
  quotas: Quotas;
  /** Output of running work, for streams. */
  output: OutputStore;
  /** Sessions' workspace checkpoints, written and read by hosts through the registry. */
  snapshots: SnapshotStore;
  /** Accounts' templates and their builds (rows), read by hosts through the registry. */
  templateStore: TemplateStore;
  templates: TemplateService;
  /** Streams into sessions' containers through their hosts (the workbench: ports, browser, terminals). */
  tunnels: TunnelClient;
  /** Signs hosts' certificates when hosts reach Temporal through the host gateway (DURABOX_HOST_GATEWAY). */
  hostCa: HostCa | undefined;
  client: Client;
  connection: NativeConnection;
  /** This process's tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set: requests, workflows and activities get spans. */
  tracing: Tracing | undefined;
  /** Set when this start created the first admin; a generated password is in `passwordFile`, never in memory or the log. */
  firstAdmin?: FirstAdmin;
  close(): Promise<void>;
}

export async function startControlPlane(api: ApiSettings, temporal: TemporalSettings, opts: { connection?: NativeConnection; tracing?: Tracing } = {}): Promise<ControlPlane> {
  if (!api.hashKey) throw new Error('DURABOX_HASH_KEY is required: the key that hashes access tokens and worker secrets');
  const db = await openDb({ databaseUrl: api.databaseUrl, dataDir: api.dataDir });
  const connection = opts.connection ?? (await connectTemporal(temporal));
  await prepareNamespace(connection, temporal);
  if (!api.payloadKeys) log.warn('DURABOX_PAYLOAD_KEY is not set: code, commands and output are stored in Temporal unencrypted');
  const client = temporalClient(connection, temporal, api.payloadKeys, opts.tracing);
  const accounts = new AccountStore(db);
  const workers = new WorkerStore(db);
  const quotas = new Quotas(client, accounts, api.accountLimits);
  const templateStore = new TemplateStore(db);
  // A host has a while to take its build (it may be busy starting sandboxes), at least the session rule's.
  const templates = new TemplateService(client, templateStore, quotas, { hostTimeoutMs: Math.max(30_000, api.session.hostTimeoutMs), buildTimeoutMs: api.templateBuildTimeoutSec * 1000 }, api);
  const tasks = new TaskService(client, api, workers, quotas, templates);
  // The chains' rows are in this database; their parts' bytes in it too, or in an S3-compatible bucket.
  const blobs = openPartBlobs(api.snapshotStore);
  if (blobs instanceof S3Blobs) void blobs.check().catch((e: Error) => log.warn({ ...errorFields(e), bucket: blobs.bucket }, 'the snapshot store\'s bucket (DURABOX_SNAPSHOT_URL) is not reachable: checkpoints fail until it is'));
  const snapshots = new SnapshotStore(db, blobs);
  const sessions = new SessionService(client, api, (runtime) => tasks.runtimeHasWorker(runtime), quotas, templates, snapshots);
  const tunnels = new TunnelClient(api.hashKey, sessions, workers);
  const firstAdmin = await ensureFirstAdmin(accounts, api);
  const hostCa = api.hostGateway ? await HostCa.load(api.hostCa, true) : undefined;
  const output = await OutputStore.open(db, api.databaseUrl);
  const sweeper = setInterval(() => void output.sweep(api.streamRetentionSec).catch((e: Error) => log.error(errorFields(e), 'output sweep failed')), 60_000);
  sweeper.unref();

  const controlWorker: Worker = await createControlWorker(connection, temporal, createControlActivities({ sessions, snapshots, templates: templateStore, workers, hashKey: api.hashKey }), api.payloadKeys, opts.tracing);
  const controlDone = controlWorker.run();

  let closing: Promise<void> | undefined;
  return {
    api, temporal, hashKey: api.hashKey, db, accounts, workers, tasks, sessions, tunnels, quotas, output, snapshots, templateStore, templates, hostCa, client, connection, firstAdmin, tracing: opts.tracing,
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        if (controlWorker.getState() === 'RUNNING') controlWorker.shutdown();
        await controlDone.catch(() => undefined);
        await output.close();
        if (blobs instanceof S3Blobs) blobs.close();
        if (!opts.connection) await connection.close();
        await db.destroy();
      })();
      return closing;
    },
  };
}

async function ensureFirstAdmin(accounts: AccountStore, config: ApiSettings): Promise<FirstAdmin | undefined> {
  if ((await accounts.count()) > 0) return undefined;
  const username = config.adminUsername ?? 'admin';
  const password = config.adminPassword ?? generatePassword();
  await accounts.create({ id: newId('acc'), username, passwordHash: await hashPassword(password), isAdmin: true });
  if (config.adminPassword) return { username };
  return { username, passwordFile: writeSecretFile(join(config.dataDir, FIRST_ADMIN_PASSWORD_FILE), password) };
}
