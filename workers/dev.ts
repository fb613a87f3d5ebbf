// `npm start`: the whole platform on one machine. A Temporal dev server (unless TEMPORAL_ADDRESS is set),
// the database (PostgreSQL with DATABASE_URL, else embedded PGlite), API + MCP + control worker, and one
// runtime worker. Ctrl+C stops all of it and removes every container it started.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadConfig, type Config } from './config.js';
import { startTemporalDevServer, type DevServer } from './temporal-dev-server.js';
import { startRuntimeWorker } from './runtime-worker.js';
import { onShutdownSignal } from './lifecycle.js';
import { startApiPlatform } from '../api/platform.js';
import { generateToken, generateWorkerSecret, keyedHash, maskToken, newId } from '../api/security.js';

/** Outside production a generated key is kept in the data dir, so tokens stay valid across restarts. */
function localHashKey(dataDir: string): string {
  const file = join(dataDir, 'hash-key');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

const base = loadConfig();
mkdirSync(base.dataDir, { recursive: true });
let devServer: DevServer | undefined;
if (!base.temporalAddress) {
  devServer = await startTemporalDevServer({ dataDir: base.dataDir, port: 7233, uiPort: 8233, namespace: base.temporalNamespace });
}
const config: Config = {
  ...base,
  hashKey: base.hashKey ?? localHashKey(base.dataDir),
  temporalAddress: base.temporalAddress ?? devServer!.address,
  workerId: process.env.DURABOX_WORKER_ID ? base.workerId : 'local',
};

const api = await startApiPlatform(config);
// The local worker's credential is written straight into the database (a new secret each start, never
// shown), so `npm start` needs no POST /workers; DURABOX_WORKER_SECRET, when given, is used instead.
let workerSecret = config.workerSecret;
if (!workerSecret) {
  workerSecret = generateWorkerSecret();
  await api.deps.workers.putCredential({ nodeId: config.workerId, secretHash: keyedHash(config.hashKey!, workerSecret) });
}
const worker = await startRuntimeWorker({ ...config, apiUrl: api.url, workerSecret });

const lines = [
  `durabox is running`,
  `  dashboard    ${api.url}/`,
  `  REST API     ${api.url}/api/v1`,
  `  MCP          ${api.url}/mcp   (Streamable HTTP, Authorization: Bearer <token>)`,
  `  Temporal UI  ${devServer?.uiUrl ?? config.temporalUiUrl}`,
  `  database     ${config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${join(config.dataDir, 'pgdata')}`}`,
  `  worker       ${worker.workerId} serving ${config.runtimes.join(', ')}`,
];
if (api.firstAdmin) {
  // First start: an admin and a token to use right away. Both are shown this once only.
  const token = generateToken();
  const admin = (await api.deps.accounts.byUsername(api.firstAdmin.username))!;
  await api.deps.accounts.createToken({ id: newId('tok'), accountId: admin.id, name: 'default', tokenHash: keyedHash(config.hashKey!, token), masked: maskToken(token), generated: true });
  lines.push(
    `  admin        ${api.firstAdmin.username} / ${api.firstAdmin.generated ? api.firstAdmin.password : '(DURABOX_ADMIN_PASSWORD)'}   (shown once)`,
    `  token        ${token}   (shown once)`,
  );
}
console.log(lines.join('\n'));

onShutdownSignal(async () => {
  // One machine, one Ctrl+C: nothing of this platform is left running, session containers included.
  await worker.shutdown({ removeSessions: true });
  await api.close();
  await devServer?.stop();
});
