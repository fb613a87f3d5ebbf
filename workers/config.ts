// Every setting durabox reads, in one place: the README's reference table mirrors this file.
import { hostname } from 'node:os';
import { resolve } from 'node:path';

export interface RuntimeLimits {
  image: string;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  tmpfsBytes: number;
  network: boolean;
}

export interface Config {
  httpHost: string;
  httpPort: number;
  dataDir: string;
  databaseUrl: string | undefined;
  temporalAddress: string | undefined;
  temporalNamespace: string;
  temporalTls: { cert?: string; key?: string; ca?: string } | undefined;
  temporalUiUrl: string;
  hashKey: string | undefined;
  adminUsername: string | undefined;
  adminPassword: string | undefined;
  enableRegistration: boolean;
  taskRetentionDays: number;
  apiUrl: string;
  workerId: string;
  workerSecret: string | undefined;
  runtimes: string[];
  maxInflight: number;
  outputLimitBytes: number;
  heartbeatIntervalSec: number;
  heartbeatJitterPct: number;
  /** How many executions one warm python container serves (reset in between) before it is replaced. */
  sandboxMaxUses: number;
  /** How long an activity may go without a heartbeat before Temporal gives it to another worker. */
  activityHeartbeatTimeoutMs: number;
  python: RuntimeLimits;
  terminal: RuntimeLimits;
  session: {
    leaseDefaultSec: number;
    leaseMinSec: number;
    leaseMaxSec: number;
    maxLifetimeSec: number;
    /** A session step that no poll of its host's queue picks up within this long: the host is lost. */
    hostTimeoutMs: number;
    /** Largest file moved in or out of a session in one call (results travel through Temporal, 2 MB max). */
    fileMaxBytes: number;
    /** Commands per workflow run before continue-as-new (Temporal allows 2,000 updates per run). */
    commandsPerRun: number;
  };
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

export function parseListenAddr(addr: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(addr.trim());
  if (!m) throw new ConfigError(`DURABOX_HTTP_ADDR must look like host:port or :port, got ${JSON.stringify(addr)}`);
  const port = Number(m[2]);
  if (port > 65535) throw new ConfigError(`DURABOX_HTTP_ADDR port out of range: ${port}`);
  return { host: m[1].replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

function runtimeLimits(env: Env, prefix: 'PYTHON' | 'TERMINAL', image: string): RuntimeLimits {
  return {
    image: str(env, `DURABOX_${prefix}_IMAGE`) ?? image,
    memoryBytes: int(env, `DURABOX_${prefix}_MEMORY_MB`, prefix === 'PYTHON' ? 256 : 512, 16, 65536) * 1024 * 1024,
    nanoCpus: Math.round(Number(str(env, `DURABOX_${prefix}_CPUS`) ?? '1') * 1e9),
    pidsLimit: int(env, `DURABOX_${prefix}_PIDS_LIMIT`, 128, 8, 32768),
    tmpfsBytes: int(env, `DURABOX_${prefix}_TMPFS_MB`, prefix === 'PYTHON' ? 64 : 192, 1, 65536) * 1024 * 1024,
    network: bool(env, `DURABOX_${prefix}_NETWORK`, false),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const { host, port } = parseListenAddr(env.DURABOX_HTTP_ADDR ?? ':8089');
  const runtimes = (str(env, 'DURABOX_RUNTIMES') ?? 'python,terminal').split(',').map((r) => r.trim()).filter(Boolean);
  const tls = {
    cert: str(env, 'TEMPORAL_TLS_CERT'),
    key: str(env, 'TEMPORAL_TLS_KEY'),
    ca: str(env, 'TEMPORAL_TLS_CA'),
  };
  const config: Config = {
    httpHost: host,
    httpPort: port,
    dataDir: resolve(str(env, 'DURABOX_DATA_DIR') ?? './.durabox'),
    databaseUrl: str(env, 'DATABASE_URL'),
    temporalAddress: str(env, 'TEMPORAL_ADDRESS'),
    temporalNamespace: str(env, 'TEMPORAL_NAMESPACE') ?? 'default',
    temporalTls: tls.cert || tls.key || tls.ca ? tls : undefined,
    temporalUiUrl: str(env, 'DURABOX_TEMPORAL_UI_URL') ?? 'http://127.0.0.1:8233',
    hashKey: str(env, 'DURABOX_HASH_KEY'),
    adminUsername: str(env, 'DURABOX_ADMIN_USERNAME'),
    adminPassword: str(env, 'DURABOX_ADMIN_PASSWORD'),
    enableRegistration: bool(env, 'DURABOX_ENABLE_REGISTRATION', false),
    taskRetentionDays: int(env, 'DURABOX_TASK_RETENTION_DAYS', 30, 1, 3650),
    apiUrl: str(env, 'DURABOX_API_URL') ?? 'http://127.0.0.1:8089',
    workerId: str(env, 'DURABOX_WORKER_ID') ?? `host-${hostname()}`,
    workerSecret: str(env, 'DURABOX_WORKER_SECRET'),
    runtimes,
    maxInflight: int(env, 'DURABOX_MAX_INFLIGHT', 4, 1, 1024),
    outputLimitBytes: int(env, 'DURABOX_OUTPUT_LIMIT_BYTES', 1048576, 1024, 64 * 1048576),
    heartbeatIntervalSec: int(env, 'DURABOX_HEARTBEAT_INTERVAL_SEC', 5, 1, 3600),
    heartbeatJitterPct: int(env, 'DURABOX_HEARTBEAT_JITTER_PCT', 20, 0, 100),
    sandboxMaxUses: int(env, 'DURABOX_SANDBOX_MAX_USES', 50, 1, 100000),
    activityHeartbeatTimeoutMs: int(env, 'DURABOX_ACTIVITY_HEARTBEAT_TIMEOUT_MS', 10000, 1000, 600000),
    python: runtimeLimits(env, 'PYTHON', 'durabox/python:1'),
    terminal: runtimeLimits(env, 'TERMINAL', 'durabox/terminal:1'),
    session: {
      leaseDefaultSec: int(env, 'DURABOX_SESSION_LEASE_DEFAULT_SEC', 60, 1, 86400),
      leaseMinSec: int(env, 'DURABOX_SESSION_LEASE_MIN_SEC', 60, 1, 86400),
      leaseMaxSec: int(env, 'DURABOX_SESSION_LEASE_MAX_SEC', 1800, 1, 86400),
      maxLifetimeSec: int(env, 'DURABOX_SESSION_MAX_LIFETIME_SEC', 86400, 1, 30 * 86400),
      hostTimeoutMs: int(env, 'DURABOX_SESSION_HOST_TIMEOUT_MS', 5000, 500, 600000),
      fileMaxBytes: int(env, 'DURABOX_SESSION_FILE_MAX_BYTES', 1048576, 1, 1400000),
      commandsPerRun: int(env, 'DURABOX_SESSION_COMMANDS_PER_RUN', 500, 2, 1500),
    },
  };
  const ls = config.session;
  if (ls.leaseMinSec > ls.leaseMaxSec || ls.leaseDefaultSec < ls.leaseMinSec || ls.leaseDefaultSec > ls.leaseMaxSec) {
    throw new ConfigError('session lease settings must satisfy MIN <= DEFAULT <= MAX');
  }
  for (const r of runtimes) {
    if (!KNOWN_RUNTIMES.includes(r)) throw new ConfigError(`DURABOX_RUNTIMES: unknown runtime ${JSON.stringify(r)} (known: ${KNOWN_RUNTIMES.join(', ')})`);
  }
  if (!Number.isFinite(config.python.nanoCpus) || config.python.nanoCpus <= 0) throw new ConfigError('DURABOX_PYTHON_CPUS must be a positive number');
  if (!Number.isFinite(config.terminal.nanoCpus) || config.terminal.nanoCpus <= 0) throw new ConfigError('DURABOX_TERMINAL_CPUS must be a positive number');
  return config;
}

export const KNOWN_RUNTIMES = ['python', 'terminal'];
