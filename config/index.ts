// The one module that reads the environment. Each process takes the section it needs: the API its
// `api` section, a runtime worker its `worker` section, both the `temporal` one, `npm start` all of
// them. The settings table in docs/settings.md lists every variable read here.
import { hostname, tmpdir } from 'node:os';
import type { AccountLimits } from '../contract/limits.js';
import { AllowList, NETWORK_POLICIES, type NetworkPolicy } from '../contract/templates.js';
import { join, resolve } from 'node:path';

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {}

export const KNOWN_RUNTIMES = ['python', 'terminal'] as const;

export interface EgressSettings {
  /** The IPv4 range each allow-list sandbox's own network (a /29) is cut from. */
  subnet: string;
  /** Private or local ranges an allow-list may reach; empty: public addresses only. */
  privateCidrs: string[];
  /** Names the proxy resolves itself (name=ip), e.g. a package mirror on a private network. */
  hosts: string[];
}

/** A host's builds of account templates: every step on an internal network whose only peer is the egress proxy. */
export interface TemplateBuildSettings {
  /** The host:port patterns a build reaches through the proxy: the package indexes. */
  indexes: string[];
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  timeoutSec: number;
}

export interface RuntimeLimits {
  image: string;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  tmpfsBytes: number;
  /** The runtime's own setting (DURABOX_<RUNTIME>_NETWORK): the Docker bridge. Templates never set it. */
  network: boolean;
  /**
   * Set by a template with a network: its sandboxes reach out only through the host's egress proxy, to
   * these host:port patterns (allowlist) or to any public destination ("public", for `full`).
   */
  egress?: EgressPolicy;
}

/** What a sandbox's egress proxy lets it reach: an allow-list of host:port patterns, or any public address. */
export type EgressPolicy = string[] | 'public';

export type SdkLogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** The level of durabox's own JSON log lines (pino's names); `silent` writes none. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Every process's log lines. */
export interface LogSettings {
  level: LogLevel;
}

/** How every process reaches Temporal. */
export interface TemporalSettings {
  /** Unset: `npm start` runs a dev server; other processes use 127.0.0.1:7233. */
  address: string | undefined;
  namespace: string;
  /** PEM file paths for mTLS, and the name Temporal's certificate must carry when it is not the address's host. */
  tls: { cert?: string; key?: string; ca?: string; serverName?: string } | undefined;
  uiUrl: string;
  /** Namespace retention, which is how long finished tasks are kept. */
  retentionDays: number;
  /** The Temporal SDK's own log level (its lines below warnings are noise for operators). */
  sdkLogLevel: SdkLogLevel;
}

/** Keys that seal Temporal payloads, as base64 of 32 bytes: `current` seals, `old` ones still open. */
export interface PayloadKeys {
  current: string;
  old: string[];
  /**
   * Open payloads that are not sealed, as they are (DURABOX_PAYLOAD_ACCEPT_PLAIN): only while histories
   * written before encryption was turned on are still kept. Off, a payload without the seal is refused:
   * whoever reaches Temporal without the key cannot hand durabox's workflows a forged input.
   */
  acceptPlain?: boolean;
}

/** The CA that signs per-host certificates (and the host gateway's own). */
export interface HostCaFiles {
  cert: string;
  key: string;
}

/** Session rules the API hands to every session workflow it starts. */
export interface SessionPolicy {
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
  /** Calls one API process sends a session at once; more wait their turn (Temporal refuses a workflow over 10 in-flight Updates). */
  maxInflightCalls: number;
  /** Least time between two checkpoints of a session's /workspace; a checkpoint is at most this old (0: none). */
  checkpointSec: number;
  /** A session idle this long is checkpointed and its container removed (0: never paused). */
  pauseAfterSec: number;
  /** Largest workspace a checkpoint holds, as an uncompressed tar; a larger one is not checkpointed. */
  checkpointMaxBytes: number;
  /** zero: every step's effect is stored before it answers; interval: checkpoints at most every checkpointSec. */
  durability: SessionDurability;
  /** A host silent this long is gone: its sessions move; until then their steps wait for it to come back. */
  hostGoneSec: number;
}

export const SESSION_DURABILITIES = ['zero', 'interval'] as const;
export type SessionDurability = (typeof SESSION_DURABILITIES)[number];

/** The control plane: HTTP API, MCP, dashboard and the control worker. */
export interface ApiSettings {
  httpHost: string;
  httpPort: number;
  /** Trust X-Forwarded-* headers (behind a reverse proxy). */
  trustProxy: boolean;
  /** Sessions' ports are also served at `<port>-<session>.<this domain>` (DURABOX_PREVIEW_DOMAIN). */
  previewDomain: string | undefined;
  /** The login cookie is always Secure (DURABOX_SECURE_COOKIES): behind a TLS proxy that is not trusted for X-Forwarded-*. */
  secureCookies: boolean;
  /** Serve HTTPS with these PEM files (DURABOX_TLS_CERT, DURABOX_TLS_KEY) instead of plain HTTP. */
  https: { cert: string; key: string } | undefined;
  /** Where the embedded database lives when DATABASE_URL is unset. */
  dataDir: string;
  databaseUrl: string | undefined;
  /** Required to start the API; `npm start` keeps a generated one in the data dir. */
  hashKey: string | undefined;
  adminUsername: string | undefined;
  adminPassword: string | undefined;
  enableRegistration: boolean;
  /** Hand a task's first workflow task to the API's own control worker with the start call. */
  eagerStart: boolean;
  /** How long an activity may go without a heartbeat before Temporal gives it to another worker. */
  activityHeartbeatTimeoutMs: number;
  /** How long output chunks are kept for streams after they were written (the result holds them after). */
  streamRetentionSec: number;
  /** Longest one host's build of an account template may run (the host aborts it then; the workflow waits a little longer). */
  templateBuildTimeoutSec: number;
  /**
   * The network policies a template may be created with (DURABOX_TEMPLATE_NETWORKS), for every account,
   * admins included: the operator's choice. `full` is offered only where listed.
   */
  templateNetworks: NetworkPolicy[];
  /** Largest sandbox limits a template may ask for. */
  templateMax: { memoryMb: number; cpus: number };
  /** When set, GET /metrics answers only `Authorization: Bearer <this>`. */
  metricsToken: string | undefined;
  /**
   * Seal every Temporal payload with these (DURABOX_PAYLOAD_KEY); the API hands them to runtime workers
   * with their start report. Unset: payloads are plain (the API warns); `npm start` generates one.
   */
  payloadKeys: PayloadKeys | undefined;
  /**
   * The host gateway's address as execution hosts dial it (DURABOX_HOST_GATEWAY). When set, the API signs
   * a certificate for each host's start report and tells the host to reach Temporal through the gateway.
   */
  hostGateway: string | undefined;
  /** The CA files; missing ones are made in the data dir at the API's first start. */
  hostCa: HostCaFiles;
  /** What each account may hold at once unless an admin overrides it for that account. */
  accountLimits: AccountLimits;
  session: SessionPolicy;
  /** Where the bytes of sessions' checkpoint parts are kept (their chain's rows are in the database either way). */
  snapshotStore: SnapshotStoreSettings;
}

/**
 * The snapshot store's bytes: in the platform's PostgreSQL (the default), or in an S3-compatible bucket
 * (DURABOX_SNAPSHOT_URL=s3://bucket/prefix) under `<prefix>/<account>/<session>/<seq>`.
 */
export type SnapshotStoreSettings =
  | { kind: 'postgres' }
  | {
    kind: 's3';
    bucket: string;
    /** Key prefix inside the bucket, without slashes at its ends ('' for none). */
    prefix: string;
    /** An S3-compatible server's URL; unset: AWS S3 of `region`. */
    endpoint: string | undefined;
    region: string;
    /** Unset: the AWS SDK's default chain (AWS_ACCESS_KEY_ID…, a profile, an instance role). */
    credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
    /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (most S3-compatible servers want it). */
    forcePathStyle: boolean;
  };

/** A runtime worker on an execution host. */
export interface WorkerSettings {
  apiUrl: string;
  /** A PEM file of CAs trusted for the API's certificate besides the system's (a private CA). */
  apiCa: string | undefined;
  /** Plain HTTP to an API that is not on this machine was allowed explicitly (DURABOX_API_INSECURE). */
  apiInsecure: boolean;
  workerId: string;
  /** Whether DURABOX_WORKER_ID was set (else the id is derived from the host name). */
  workerIdGiven: boolean;
  workerSecret: string | undefined;
  runtimes: string[];
  maxInflight: number;
  outputLimitBytes: number;
  heartbeatIntervalSec: number;
  heartbeatJitterPct: number;
  /**
   * Most sessions this host holds at once; a new session beyond it goes to another host or gets 429
   * no_capacity. The host queue gets enough slots that every session's steps start at once.
   */
  maxSessions: number;
  /** How often the host removes containers of sessions that ended without it (lost, or a missed cleanup). */
  reapIntervalSec: number;
  /** The workbench's streams into this host's sessions (ports, browser, terminals): where the API reaches them. */
  tunnel: { listen: string; advertise?: string; relayDir: string };
  /** How many executions one warm python container serves (reset in between) before it is replaced. */
  sandboxMaxUses: number;
  /** Largest file moved in or out of a session in one call. */
  fileMaxBytes: number;
  /** Largest workspace a session checkpoint holds (an uncompressed tar). */
  checkpointMaxBytes: number;
  /** The CA bundle package managers trust while this host builds account templates; undefined: the image's own. */
  buildCaFile: string | undefined;
  /** The egress proxy of allow-list templates' sandboxes. */
  egress: EgressSettings;
  /** How this host builds account templates: where its steps may connect, their limits, how long at most. */
  templateBuild: TemplateBuildSettings;
  /** Python sandbox pools of account templates kept at once (least recently used idle ones close beyond it). */
  templatePoolsMax: number;
  python: RuntimeLimits;
  terminal: RuntimeLimits;
}

/** The host gateway (`npm run gateway`): execution hosts' only way to Temporal. */
export interface GatewaySettings {
  listenHost: string;
  listenPort: number;
  /** Temporal itself, as the control plane reaches it. */
  temporalAddress: string;
  temporalTls: TemporalSettings['tls'];
  namespace: string;
  /** The platform's PostgreSQL, where host credentials live (the embedded database is not shared). */
  databaseUrl: string | undefined;
  dataDir: string;
  hostCa: HostCaFiles;
  /** How often the credentials of connected hosts are read again (a deleted one gets no new work). */
  recheckSec: number;
  /** How long a host whose credential was deleted may still report the work it runs before it is cut off. */
  drainSec: number;
  /** How many activity task tokens (each bound to the host that polled it) the gateway remembers at most. */
  maxTaskTokens: number;
}

/**
 * OpenTelemetry traces, read from the standard OTEL_* variables. The exporter itself also reads
 * OTEL_EXPORTER_OTLP_HEADERS and the batch processor OTEL_BSP_*.
 */
export interface TracingSettings {
  /** Where spans are posted (OTLP/HTTP, JSON); unset, no tracing is installed at all. */
  tracesUrl: string | undefined;
  /** OTEL_SERVICE_NAME; unset, each process names itself (durabox-api, durabox-worker). */
  serviceName: string | undefined;
}

/** `npm start` only: the local Temporal dev server. */
export interface DevSettings {
  dataDir: string;
  temporalCli: string;
  /** The dev server's gRPC port (on 127.0.0.1) and its UI's. */
  temporalPort: number;
  temporalUiPort: number;
}

export interface Config {
  temporal: TemporalSettings;
  api: ApiSettings;
  worker: WorkerSettings;
  tracing: TracingSettings;
  dev: DevSettings;
  log: LogSettings;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a decimal integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
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

function num(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${name} must be a number in ${min}..${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function positive(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

/** `host:port`, `:port` (every address) or `[ipv6]:port`; port 0 picks a free port. */
export function parseListenAddr(addr: string, name = 'DURABOX_HTTP_ADDR'): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new ConfigError(`${name} must look like host:port, :port or [ipv6]:port, got ${JSON.stringify(addr)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${name} port out of range: ${port}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function runtimeLimits(env: Env, prefix: 'PYTHON' | 'TERMINAL', image: string): RuntimeLimits {
  return {
    image: str(env, `DURABOX_${prefix}_IMAGE`) ?? image,
    memoryBytes: int(env, `DURABOX_${prefix}_MEMORY_MB`, prefix === 'PYTHON' ? 256 : 512, 16, 65536) * 1024 * 1024,
    nanoCpus: Math.round(positive(env, `DURABOX_${prefix}_CPUS`, 1) * 1e9),
    pidsLimit: int(env, `DURABOX_${prefix}_PIDS_LIMIT`, 128, 8, 32768),
    tmpfsBytes: int(env, `DURABOX_${prefix}_TMPFS_MB`, prefix === 'PYTHON' ? 64 : 192, 1, 65536) * 1024 * 1024,
    network: bool(env, `DURABOX_${prefix}_NETWORK`, false),
  };
}

const LOG_LEVELS: SdkLogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
const OWN_LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function loadLogSettings(env: Env = process.env): LogSettings {
  const level = (str(env, 'DURABOX_LOG_LEVEL') ?? 'info').toLowerCase() as LogLevel;
  if (!OWN_LOG_LEVELS.includes(level)) throw new ConfigError(`DURABOX_LOG_LEVEL must be one of ${OWN_LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.DURABOX_LOG_LEVEL)}`);
  return { level };
}

export function loadTemporalSettings(env: Env = process.env): TemporalSettings {
  const tls = { cert: str(env, 'TEMPORAL_TLS_CERT'), key: str(env, 'TEMPORAL_TLS_KEY'), ca: str(env, 'TEMPORAL_TLS_CA'), serverName: str(env, 'TEMPORAL_TLS_SERVER_NAME') };
  if (!tls.cert !== !tls.key) throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: the client certificate and its key (PEM files)');
  const level = (str(env, 'DURABOX_TEMPORAL_LOG_LEVEL') ?? 'WARN').toUpperCase() as SdkLogLevel;
  if (!LOG_LEVELS.includes(level)) throw new ConfigError(`DURABOX_TEMPORAL_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.DURABOX_TEMPORAL_LOG_LEVEL)}`);
  return {
    address: str(env, 'TEMPORAL_ADDRESS'),
    namespace: str(env, 'TEMPORAL_NAMESPACE') ?? 'default',
    tls: tls.cert || tls.key || tls.ca || tls.serverName ? tls : undefined,
    uiUrl: str(env, 'DURABOX_TEMPORAL_UI_URL') ?? 'http://127.0.0.1:8233',
    retentionDays: int(env, 'DURABOX_TASK_RETENTION_DAYS', 30, 1, 3650),
    sdkLogLevel: level,
  };
}

/** PostgreSQL keeps a part in one bytea value (at most 1 GB): a larger cap needs the S3 store. */
export const POSTGRES_CHECKPOINT_MAX_BYTES = 1024 * 1048576;
/** One S3 CopyObject copies at most 5 GiB: a named snapshot's copy of a part stays one request. */
export const S3_CHECKPOINT_MAX_BYTES = 4096 * 1048576;

function checkpointMaxBytes(env: Env): number {
  return int(env, 'DURABOX_SESSION_CHECKPOINT_MAX_BYTES', 64 * 1048576, 1024, S3_CHECKPOINT_MAX_BYTES);
}

/** S3's bucket names: 3–63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Prefix segments are plain names: no `.`/`..`, no characters a key would need escaped. */
const PREFIX_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function snapshotStoreSettings(env: Env): SnapshotStoreSettings {
  const raw = str(env, 'DURABOX_SNAPSHOT_URL');
  const s3Only = ['DURABOX_SNAPSHOT_S3_ENDPOINT', 'DURABOX_SNAPSHOT_S3_ACCESS_KEY_ID', 'DURABOX_SNAPSHOT_S3_SECRET_ACCESS_KEY'].filter((n) => str(env, n));
  if (!raw) {
    if (s3Only.length > 0) throw new ConfigError(`${s3Only.join(', ')} set without DURABOX_SNAPSHOT_URL: name the bucket (s3://bucket/prefix), or unset them to keep checkpoints in PostgreSQL`);
    return { kind: 'postgres' };
  }
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(raw);
  if (!m) throw new ConfigError(`DURABOX_SNAPSHOT_URL must look like s3://bucket or s3://bucket/prefix, got ${JSON.stringify(raw)}`);
  const bucket = m[1];
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) throw new ConfigError(`DURABOX_SNAPSHOT_URL: ${JSON.stringify(bucket)} is not an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens)`);
  const segments = (m[2] ?? '').split('/').filter(Boolean);
  const bad = segments.find((seg) => !PREFIX_SEGMENT.test(seg));
  if (bad !== undefined) throw new ConfigError(`DURABOX_SNAPSHOT_URL: the prefix segment ${JSON.stringify(bad)} must be letters, digits, '_', '-' and '.', not starting with '.'`);
  const endpoint = str(env, 'DURABOX_SNAPSHOT_S3_ENDPOINT');
  if (endpoint !== undefined) {
    let u: URL | undefined;
    try { u = new URL(endpoint); } catch { u = undefined; }
    if (!u || !['http:', 'https:'].includes(u.protocol)) throw new ConfigError(`DURABOX_SNAPSHOT_S3_ENDPOINT must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  const accessKeyId = str(env, 'DURABOX_SNAPSHOT_S3_ACCESS_KEY_ID');
  const secretAccessKey = str(env, 'DURABOX_SNAPSHOT_S3_SECRET_ACCESS_KEY');
  if (!accessKeyId !== !secretAccessKey) throw new ConfigError('DURABOX_SNAPSHOT_S3_ACCESS_KEY_ID and DURABOX_SNAPSHOT_S3_SECRET_ACCESS_KEY go together: set both, or neither (the AWS SDK\'s default credentials)');
  return {
    kind: 's3',
    bucket,
    prefix: segments.join('/'),
    endpoint,
    region: str(env, 'DURABOX_SNAPSHOT_S3_REGION') ?? 'us-east-1',
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
    forcePathStyle: bool(env, 'DURABOX_SNAPSHOT_S3_PATH_STYLE', endpoint !== undefined),
  };
}

function durability(env: Env): SessionDurability {
  const v = str(env, 'DURABOX_SESSION_DURABILITY') ?? 'zero';
  if (!(SESSION_DURABILITIES as readonly string[]).includes(v)) throw new ConfigError(`DURABOX_SESSION_DURABILITY must be one of ${SESSION_DURABILITIES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as SessionDurability;
}

function fileMaxBytes(env: Env): number {
  return int(env, 'DURABOX_SESSION_FILE_MAX_BYTES', 1048576, 1, 1400000);
}

function payloadKey(name: string, value: string): string {
  const bytes = Buffer.from(value, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || bytes.length !== 32) {
    throw new ConfigError(`${name} must be 32 random bytes in base64 (e.g. openssl rand -base64 32), got ${value.length} characters`);
  }
  return value;
}

function payloadKeys(env: Env): PayloadKeys | undefined {
  const current = str(env, 'DURABOX_PAYLOAD_KEY');
  const old = (str(env, 'DURABOX_PAYLOAD_OLD_KEYS') ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  if (!current) {
    if (old.length > 0) throw new ConfigError('DURABOX_PAYLOAD_OLD_KEYS is set without DURABOX_PAYLOAD_KEY: name the key that seals new payloads');
    return undefined;
  }
  const acceptPlain = bool(env, 'DURABOX_PAYLOAD_ACCEPT_PLAIN', false);
  return { current: payloadKey('DURABOX_PAYLOAD_KEY', current), old: old.map((k) => payloadKey('DURABOX_PAYLOAD_OLD_KEYS', k)), ...(acceptPlain ? { acceptPlain } : {}) };
}

export function loadApiSettings(env: Env = process.env): ApiSettings {
  const { host, port } = parseListenAddr(str(env, 'DURABOX_HTTP_ADDR') ?? ':8089');
  const session: SessionPolicy = {
    leaseDefaultSec: int(env, 'DURABOX_SESSION_LEASE_DEFAULT_SEC', 60, 1, 86400),
    leaseMinSec: int(env, 'DURABOX_SESSION_LEASE_MIN_SEC', 60, 1, 86400),
    leaseMaxSec: int(env, 'DURABOX_SESSION_LEASE_MAX_SEC', 1800, 1, 86400),
    maxLifetimeSec: int(env, 'DURABOX_SESSION_MAX_LIFETIME_SEC', 86400, 1, 30 * 86400),
    hostTimeoutMs: int(env, 'DURABOX_SESSION_HOST_TIMEOUT_MS', 5000, 500, 600000),
    fileMaxBytes: fileMaxBytes(env),
    commandsPerRun: int(env, 'DURABOX_SESSION_COMMANDS_PER_RUN', 500, 2, 1500),
    maxInflightCalls: int(env, 'DURABOX_SESSION_MAX_INFLIGHT_CALLS', 8, 1, 1000),
    checkpointSec: int(env, 'DURABOX_SESSION_CHECKPOINT_SEC', 10, 0, 86400),
    pauseAfterSec: int(env, 'DURABOX_SESSION_PAUSE_AFTER_SEC', 300, 0, 30 * 86400),
    checkpointMaxBytes: checkpointMaxBytes(env),
    durability: durability(env),
    hostGoneSec: int(env, 'DURABOX_SESSION_HOST_GONE_SEC', 30, 1, 86400),
  };
  const snapshotStore = snapshotStoreSettings(env);
  if (snapshotStore.kind === 'postgres' && session.checkpointMaxBytes > POSTGRES_CHECKPOINT_MAX_BYTES) {
    throw new ConfigError(`DURABOX_SESSION_CHECKPOINT_MAX_BYTES above ${POSTGRES_CHECKPOINT_MAX_BYTES} needs DURABOX_SNAPSHOT_URL: PostgreSQL keeps a checkpoint part in one value of at most 1 GB`);
  }
  if (session.pauseAfterSec > 0 && session.checkpointSec === 0) {
    throw new ConfigError('DURABOX_SESSION_PAUSE_AFTER_SEC needs checkpoints: set DURABOX_SESSION_CHECKPOINT_SEC above 0, or DURABOX_SESSION_PAUSE_AFTER_SEC=0');
  }
  if (session.leaseMinSec > session.leaseMaxSec || session.leaseDefaultSec < session.leaseMinSec || session.leaseDefaultSec > session.leaseMaxSec) {
    throw new ConfigError(
      'session lease settings must satisfy DURABOX_SESSION_LEASE_MIN_SEC <= DURABOX_SESSION_LEASE_DEFAULT_SEC <= DURABOX_SESSION_LEASE_MAX_SEC, ' +
      `got ${session.leaseMinSec} <= ${session.leaseDefaultSec} <= ${session.leaseMaxSec}`,
    );
  }
  return {
    httpHost: host,
    httpPort: port,
    trustProxy: bool(env, 'DURABOX_TRUST_PROXY', false),
    previewDomain: str(env, 'DURABOX_PREVIEW_DOMAIN')?.toLowerCase().replace(/^\.+|\.+$/g, ''),
    secureCookies: bool(env, 'DURABOX_SECURE_COOKIES', false),
    https: apiHttps(env),
    dataDir: dataDirOf(env),
    databaseUrl: str(env, 'DATABASE_URL'),
    hashKey: str(env, 'DURABOX_HASH_KEY'),
    adminUsername: str(env, 'DURABOX_ADMIN_USERNAME'),
    adminPassword: str(env, 'DURABOX_ADMIN_PASSWORD'),
    enableRegistration: bool(env, 'DURABOX_ENABLE_REGISTRATION', false),
    eagerStart: bool(env, 'DURABOX_EAGER_START', true),
    activityHeartbeatTimeoutMs: int(env, 'DURABOX_ACTIVITY_HEARTBEAT_TIMEOUT_MS', 10000, 1000, 600000),
    streamRetentionSec: int(env, 'DURABOX_STREAM_RETENTION_SEC', 900, 60, 86400),
    templateNetworks: templateNetworks(env),
    templateBuildTimeoutSec: templateBuildTimeoutSec(env),
    templateMax: {
      memoryMb: int(env, 'DURABOX_TEMPLATE_MAX_MEMORY_MB', 4096, 64, 16_384),
      cpus: num(env, 'DURABOX_TEMPLATE_MAX_CPUS', 2, 0.1, 64),
    },
    metricsToken: str(env, 'DURABOX_METRICS_TOKEN'),
    payloadKeys: payloadKeys(env),
    hostGateway: str(env, 'DURABOX_HOST_GATEWAY'),
    hostCa: hostCaFiles(env),
    accountLimits: {
      max_running_tasks: int(env, 'DURABOX_ACCOUNT_MAX_RUNNING_TASKS', 64, 1, 1_000_000),
      max_sessions: int(env, 'DURABOX_ACCOUNT_MAX_SESSIONS', 100, 0, 1_000_000),
      max_tokens: int(env, 'DURABOX_ACCOUNT_MAX_TOKENS', 100, 1, 1_000_000),
      max_templates: int(env, 'DURABOX_ACCOUNT_MAX_TEMPLATES', 20, 0, 10_000),
      max_snapshots: int(env, 'DURABOX_ACCOUNT_MAX_SNAPSHOTS', 50, 0, 1_000_000),
      max_snapshot_mb: int(env, 'DURABOX_ACCOUNT_MAX_SNAPSHOT_MB', 2048, 0, 1_000_000),
    },
    session,
    snapshotStore,
  };
}

function apiHttps(env: Env): ApiSettings['https'] {
  const cert = str(env, 'DURABOX_TLS_CERT');
  const key = str(env, 'DURABOX_TLS_KEY');
  if (!cert !== !key) throw new ConfigError('DURABOX_TLS_CERT and DURABOX_TLS_KEY go together: set both (PEM files) to serve HTTPS, or neither');
  return cert && key ? { cert: resolve(cert), key: resolve(key) } : undefined;
}

/** Whether a URL's host is this machine's loopback, where plain HTTP crosses no network. */
function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The API a worker reports to. Its secret travels in every request, so plain HTTP is refused unless the
 * API is on this machine's loopback or DURABOX_API_INSECURE says the network is trusted.
 */
function workerApiUrl(env: Env): { apiUrl: string; apiInsecure: boolean } {
  const apiUrl = str(env, 'DURABOX_API_URL') ?? 'http://127.0.0.1:8089';
  const apiInsecure = bool(env, 'DURABOX_API_INSECURE', false);
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new ConfigError(`DURABOX_API_URL must be an http(s) URL, got ${JSON.stringify(apiUrl)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`DURABOX_API_URL must be an http(s) URL, got ${JSON.stringify(apiUrl)}`);
  if (url.protocol === 'http:' && !isLoopbackUrl(url) && !apiInsecure) {
    throw new ConfigError(
      `DURABOX_API_URL ${apiUrl} is plain HTTP to another machine: the worker's secret would cross the network in clear. ` +
      'Use https:// (DURABOX_API_CA names a private CA), or set DURABOX_API_INSECURE=true on a network you trust',
    );
  }
  return { apiUrl, apiInsecure };
}

function dataDirOf(env: Env): string {
  return resolve(str(env, 'DURABOX_DATA_DIR') ?? './.durabox');
}

function hostCaFiles(env: Env): HostCaFiles {
  return {
    cert: resolve(str(env, 'DURABOX_HOST_CA_CERT') ?? join(dataDirOf(env), 'host-ca.crt')),
    key: resolve(str(env, 'DURABOX_HOST_CA_KEY') ?? join(dataDirOf(env), 'host-ca.key')),
  };
}

export function loadGatewaySettings(env: Env = process.env): GatewaySettings {
  const { host, port } = parseListenAddr(str(env, 'DURABOX_GATEWAY_ADDR') ?? ':7243', 'DURABOX_GATEWAY_ADDR');
  const temporal = loadTemporalSettings(env);
  return {
    listenHost: host,
    listenPort: port,
    temporalAddress: temporal.address ?? '127.0.0.1:7233',
    temporalTls: temporal.tls,
    namespace: temporal.namespace,
    databaseUrl: str(env, 'DATABASE_URL'),
    dataDir: dataDirOf(env),
    hostCa: hostCaFiles(env),
    recheckSec: int(env, 'DURABOX_GATEWAY_RECHECK_SEC', 5, 1, 3600),
    drainSec: int(env, 'DURABOX_GATEWAY_DRAIN_SEC', 30, 0, 86400),
    maxTaskTokens: int(env, 'DURABOX_GATEWAY_MAX_TASK_TOKENS', 100_000, 100, 10_000_000),
  };
}

export function loadWorkerSettings(env: Env = process.env): WorkerSettings {
  const runtimes = [...new Set((str(env, 'DURABOX_RUNTIMES') ?? 'python,terminal').split(',').map((r) => r.trim()).filter(Boolean))];
  if (runtimes.length === 0) throw new ConfigError(`DURABOX_RUNTIMES names no runtime (known: ${KNOWN_RUNTIMES.join(', ')})`);
  for (const r of runtimes) {
    if (!(KNOWN_RUNTIMES as readonly string[]).includes(r)) {
      throw new ConfigError(`DURABOX_RUNTIMES: unknown runtime ${JSON.stringify(r)} (known: ${KNOWN_RUNTIMES.join(', ')})`);
    }
  }
  const workerId = str(env, 'DURABOX_WORKER_ID');
  const apiCa = str(env, 'DURABOX_API_CA');
  return {
    ...workerApiUrl(env),
    apiCa: apiCa ? resolve(apiCa) : undefined,
    workerId: workerId ?? `host-${hostname()}`,
    workerIdGiven: workerId !== undefined,
    workerSecret: str(env, 'DURABOX_WORKER_SECRET'),
    runtimes,
    maxInflight: int(env, 'DURABOX_MAX_INFLIGHT', 4, 1, 1024),
    outputLimitBytes: int(env, 'DURABOX_OUTPUT_LIMIT_BYTES', 1048576, 1024, 64 * 1048576),
    heartbeatIntervalSec: int(env, 'DURABOX_HEARTBEAT_INTERVAL_SEC', 5, 1, 3600),
    heartbeatJitterPct: int(env, 'DURABOX_HEARTBEAT_JITTER_PCT', 20, 0, 100),
    maxSessions: int(env, 'DURABOX_HOST_MAX_SESSIONS', 512, 1, 100000),
    reapIntervalSec: int(env, 'DURABOX_REAP_INTERVAL_SEC', 30, 1, 3600),
    tunnel: {
      listen: str(env, 'DURABOX_TUNNEL_LISTEN') ?? '127.0.0.1:0',
      advertise: str(env, 'DURABOX_TUNNEL_ADVERTISE'),
      relayDir: resolve(str(env, 'DURABOX_RELAY_DIR') ?? join(tmpdir(), 'durabox-relay')),
    },
    sandboxMaxUses: int(env, 'DURABOX_SANDBOX_MAX_USES', 50, 1, 100000),
    fileMaxBytes: fileMaxBytes(env),
    checkpointMaxBytes: checkpointMaxBytes(env),
    // Unset: the system bundle; set empty: none (the image's own).
    buildCaFile: env.DURABOX_BUILD_CA_FILE === undefined ? '/etc/ssl/certs/ca-certificates.crt' : (str(env, 'DURABOX_BUILD_CA_FILE') && resolve(str(env, 'DURABOX_BUILD_CA_FILE')!)),
    egress: egressSettings(env),
    templateBuild: templateBuildSettings(env),
    templatePoolsMax: int(env, 'DURABOX_TEMPLATE_POOLS_MAX', 8, 1, 1000),
    python: runtimeLimits(env, 'PYTHON', 'durabox/python:4'),
    terminal: runtimeLimits(env, 'TERMINAL', 'durabox/terminal:6'),
  };
}

function templateNetworks(env: Env): NetworkPolicy[] {
  const raw = str(env, 'DURABOX_TEMPLATE_NETWORKS') ?? 'none,allowlist';
  const list = raw.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = list.filter((n) => !(NETWORK_POLICIES as readonly string[]).includes(n));
  if (list.length === 0 || bad.length > 0) {
    throw new ConfigError(`DURABOX_TEMPLATE_NETWORKS must be a comma-separated list of ${NETWORK_POLICIES.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return [...new Set(list)] as NetworkPolicy[];
}

const IPV4 = '(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])';

function egressSettings(env: Env): EgressSettings {
  const list = (name: string) => (str(env, name) ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const subnet = str(env, 'DURABOX_EGRESS_SUBNET') ?? '10.213.0.0/16';
  const m = new RegExp(`^(${IPV4})/([0-9]{1,2})$`).exec(subnet);
  if (!m || Number(m[2]) < 8 || Number(m[2]) > 26) throw new ConfigError(`DURABOX_EGRESS_SUBNET must be an IPv4 range from /8 to /26, e.g. 10.213.0.0/16 (got ${subnet})`);
  const privateCidrs = list('DURABOX_EGRESS_PRIVATE_CIDRS');
  for (const c of privateCidrs) {
    if (!new RegExp(`^(?:${IPV4}(?:/(?:[0-9]|[12][0-9]|3[0-2]))?|[0-9a-fA-F:]+(?:/[0-9]{1,3})?)$`).test(c) || !c.includes('.') && !c.includes(':')) {
      throw new ConfigError(`DURABOX_EGRESS_PRIVATE_CIDRS must be a comma-separated list of addresses or CIDR ranges (got ${c})`);
    }
  }
  const hosts = list('DURABOX_EGRESS_HOSTS');
  for (const h of hosts) {
    if (!new RegExp(`^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?=${IPV4}$`).test(h)) throw new ConfigError(`DURABOX_EGRESS_HOSTS must be a comma-separated list of name=IPv4 (got ${h})`);
  }
  return { subnet, privateCidrs, hosts };
}

function templateBuildTimeoutSec(env: Env): number {
  return int(env, 'DURABOX_TEMPLATE_BUILD_TIMEOUT_SEC', 900, 30, 86400);
}

/** The public package indexes the generated Dockerfiles use (the base images' apt sources name deb.debian.org). */
export const DEFAULT_BUILD_INDEXES = ['pypi.org:443', 'files.pythonhosted.org:443', 'registry.npmjs.org:443', 'deb.debian.org:80', 'deb.debian.org:443'];

function templateBuildSettings(env: Env): TemplateBuildSettings {
  const given = str(env, 'DURABOX_BUILD_INDEXES');
  // A mirror the operator named for the proxy (DURABOX_EGRESS_HOSTS) is a package index too, on the web's ports.
  const mirrors = egressSettings(env).hosts.map((h) => h.split('=')[0]).flatMap((name) => [`${name}:80`, `${name}:443`]);
  const indexes = given === undefined ? [...DEFAULT_BUILD_INDEXES, ...mirrors] : given.split(',').map((x) => x.trim()).filter(Boolean);
  const parsed = AllowList.safeParse(indexes);
  if (!parsed.success) {
    throw new ConfigError(`DURABOX_BUILD_INDEXES must be a comma-separated list of host:port patterns, e.g. pypi.org:443 (${parsed.error.issues[0]?.message ?? 'invalid'}; got ${JSON.stringify(given)})`);
  }
  return {
    indexes,
    memoryBytes: int(env, 'DURABOX_TEMPLATE_BUILD_MEMORY_MB', 2048, 128, 262_144) * 1024 * 1024,
    nanoCpus: Math.round(num(env, 'DURABOX_TEMPLATE_BUILD_CPUS', 1, 0.1, 256) * 1e9),
    pidsLimit: int(env, 'DURABOX_TEMPLATE_BUILD_PIDS', 512, 16, 1_000_000),
    timeoutSec: templateBuildTimeoutSec(env),
  };
}

function otlpUrl(name: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(raw)}`);
  return url.toString();
}

/**
 * As the OTLP exporter specification reads them: the signal's own endpoint is used as it is, the
 * general one gets `v1/traces` appended. OTEL_SDK_DISABLED=true turns tracing off whatever is set.
 */
export function loadTracingSettings(env: Env = process.env): TracingSettings {
  const serviceName = str(env, 'OTEL_SERVICE_NAME');
  if (bool(env, 'OTEL_SDK_DISABLED', false)) return { tracesUrl: undefined, serviceName };
  const traces = str(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const base = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const tracesUrl = traces !== undefined
    ? otlpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces)
    : base !== undefined ? otlpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base.replace(/\/*$/, '/') + 'v1/traces') : undefined;
  return { tracesUrl, serviceName };
}

export function loadDevSettings(env: Env = process.env): DevSettings {
  return {
    dataDir: dataDirOf(env),
    temporalCli: str(env, 'DURABOX_TEMPORAL_CLI') ?? 'temporal',
    temporalPort: int(env, 'DURABOX_TEMPORAL_DEV_PORT', 7233, 1, 65535),
    temporalUiPort: int(env, 'DURABOX_TEMPORAL_DEV_UI_PORT', 8233, 1, 65535),
  };
}

/** Every section at once; a process that needs one section may load just that one. */
export function loadConfig(env: Env = process.env): Config {
  return {
    temporal: loadTemporalSettings(env), api: loadApiSettings(env), worker: loadWorkerSettings(env), tracing: loadTracingSettings(env), dev: loadDevSettings(env), log: loadLogSettings(env),
  };
}
