// `npm start`: the whole platform on one machine. A Temporal dev server (unless TEMPORAL_ADDRESS is set),
// the database (PostgreSQL with DATABASE_URL, else embedded PGlite), API + MCP + control worker, and one
// runtime worker. Ctrl+C stops all of it and removes every container it started; so does any other end
// of this process, kill -9 included: the dev server stops itself when this process is gone
// (temporal/dev-server.ts) and a reaper process removes the worker's containers (local/reaper.ts).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/index.js';
import { exitStartFailed, logUnexpectedErrors, onShutdownSignal } from '../config/lifecycle.js';
import { componentLog, errorFields } from '../config/log.js';
import { startApiPlatform } from '../api/platform.js';
import { generateToken, generateWorkerSecret, keyedHash, maskToken, newId, writeSecretFile } from '../control/security.js';
import { startTemporalDevServer, type DevServer } from '../temporal/dev-server.js';
import { startTracing } from '../telemetry/tracing.js';
import { startRuntimeWorker } from '../workers/runtime-worker.js';

/** `npm start`'s first access token (for the first admin), in the data dir with mode 0600. */
const FIRST_TOKEN_FILE = 'first-token';

/** Outside production a generated key is kept in the data dir, so tokens stay valid across restarts. */
function localHashKey(dataDir: string): string {
  const file = join(dataDir, 'hash-key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** Likewise the key that seals Temporal payloads, so histories stay readable across restarts. */
function localPayloadKey(dataDir: string): string {
  const file = join(dataDir, 'payload-key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/**
 * Starts the reaper of the worker's containers: it waits, in a session of its own, for this process's
 * end (its stdin pipe closing) and then removes them, whatever ended this process.
 */
function startReaper(workerId: string): void {
  const reaper = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'reaper.js'), workerId], {
    stdio: ['pipe', 'inherit', 'inherit'],
    detached: true,
  });
  reaper.stdin!.on('error', () => undefined);
  reaper.once('error', (e) => log.error(errorFields(e), 'cannot start the container reaper: a crash of npm start would leave its containers until the next start'));
  // It must not keep this process alive, only see it end.
  reaper.unref();
  (reaper.stdin as Socket).unref();
}

const log = componentLog('start');
logUnexpectedErrors(log);
try {
  const config = loadConfig();
  mkdirSync(config.dev.dataDir, { recursive: true });
  const workerId = config.worker.workerIdGiven ? config.worker.workerId : 'local';
  startReaper(workerId);
  const localApi = `http://${['0.0.0.0', '::'].includes(config.api.httpHost) ? '127.0.0.1' : config.api.httpHost}:${config.api.httpPort}`;
  let devServer: DevServer | undefined;
  if (!config.temporal.address) {
    devServer = await startTemporalDevServer({
      dataDir: config.dev.dataDir, port: config.dev.temporalPort, uiPort: config.dev.temporalUiPort, namespace: config.temporal.namespace, cli: config.dev.temporalCli,
      // The UI opens sealed payloads through the API (an admin logged in to the dashboard; see docs/security/model.md).
      codecEndpoint: `${localApi}/api/v1/codec`,
    });
  }
  const temporal = { ...config.temporal, address: config.temporal.address ?? devServer!.address };
  const hashKey = config.api.hashKey ?? localHashKey(config.dev.dataDir);
  const payloadKeys = config.api.payloadKeys ?? { current: localPayloadKey(config.dev.dataDir), old: [] };
  // One process serves the API and the worker here, so one service name for both.
  const tracing = startTracing(config.tracing, 'durabox');
  const api = await startApiPlatform({ ...config.api, hashKey, payloadKeys }, temporal, { tracing });

  // The local worker's credential is written straight into the database (a new secret each start, never
  // shown), so `npm start` needs no POST /workers; DURABOX_WORKER_SECRET, when given, is used instead.
  let workerSecret = config.worker.workerSecret;
  if (!workerSecret) {
    workerSecret = generateWorkerSecret();
    await api.deps.workers.putCredential({ nodeId: workerId, secretHash: keyedHash(hashKey, workerSecret) });
  }
  const worker = await startRuntimeWorker({ ...config.worker, workerId, apiUrl: api.url, workerSecret }, temporal, { tracing });

  const running: Record<string, unknown> = {
    dashboard: `${api.url}/`,
    rest_api: `${api.url}/api/v1`,
    mcp: `${api.url}/mcp`,
    temporal_ui: devServer?.uiUrl ?? temporal.uiUrl,
    database: config.api.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${join(config.api.dataDir, 'pgdata')}`,
    worker: `${worker.workerId} serving ${config.worker.runtimes.join(', ')}`,
  };
  if (tracing) {
    const to = new URL(config.tracing.tracesUrl!);
    to.username = to.password = '';
    running.traces = `${to} (OTLP, service ${tracing.serviceName})`;
  }
  if (api.firstAdmin) {
    // First start: an admin and a token to use right away. Both secrets go to files only this user
    // reads, never to the log: the line names the files.
    const token = generateToken();
    const admin = (await api.deps.accounts.byUsername(api.firstAdmin.username))!;
    await api.deps.accounts.createToken({ id: newId('tok'), accountId: admin.id, name: 'default', tokenHash: keyedHash(hashKey, token), masked: maskToken(token), generated: true });
    running.admin = api.firstAdmin.username;
    running.admin_password_file = api.firstAdmin.passwordFile ?? '(DURABOX_ADMIN_PASSWORD)';
    running.token_file = writeSecretFile(join(config.dev.dataDir, FIRST_TOKEN_FILE), token);
  }
  log.info(running, `durabox is running: dashboard ${api.url}/`);

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    // One machine, one Ctrl+C: nothing of this platform is left running, session containers included.
    await worker.shutdown({ removeSessions: true });
    await api.close();
    await devServer?.stop();
    await tracing?.shutdown();
  })());
  /** A part ended on its own: say why, stop the rest (npm start without it would take work it never does). */
  const partFailed = (message: string, fields: Record<string, unknown>) => {
    if (stopping) return;
    log.fatal(fields, `${message}; stopping durabox`);
    void stop().finally(() => process.exit(1));
  };
  onShutdownSignal(log, stop);
  worker.done.catch((e: unknown) => partFailed(`the runtime worker stopped: ${(e as Error)?.message ?? String(e)}`, errorFields(e as Error)));
  devServer?.process.once('exit', (code, signal) =>
    partFailed(`the Temporal dev server exited (${signal ?? code}); see ${join(config.dev.dataDir, 'temporal.log')}`, { code, signal }));
} catch (e) {
  exitStartFailed(log, e);
}
