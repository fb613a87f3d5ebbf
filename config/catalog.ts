// Every setting durabox reads, what it defaults to, which process reads it and what it means: the one
// source of the settings table in docs/settings.md (kept equal by a unit test) and of `durabox <command> --help`.
// The loaders in config/index.ts read the values; this file only describes them.

/** Who reads a setting: a process, `all` of them, or the tooling around them. */
export type SettingUser = 'api' | 'worker' | 'gateway' | 'all' | '`npm start`' | 'tests' | 'bench' | 'image script';

export interface SettingDoc {
  /** Variables documented together (a pair like the TLS files shares one row). */
  names: string[];
  /** Markdown, as docs/settings.md shows it. */
  default: string;
  usedBy: SettingUser[];
  /** Markdown, as docs/settings.md shows it. */
  meaning: string;
}

export const SETTINGS: SettingDoc[] = [
  {
    names: ['DURABOX_HTTP_ADDR'], default: '`:8089`', usedBy: ['api'],
    meaning: 'API, MCP and dashboard listen address',
  },
  {
    names: ['DURABOX_DATA_DIR'], default: '`./.durabox`', usedBy: ['all'],
    meaning: 'local state: dev server SQLite, embedded database, generated hash key, logs',
  },
  {
    names: ['DATABASE_URL'], default: 'unset → embedded PGlite', usedBy: ['api', 'gateway'],
    meaning: 'PostgreSQL connection string (the gateway requires it: it reads host credentials)',
  },
  {
    names: ['TEMPORAL_ADDRESS'], default: 'unset → `npm start` runs a dev server; others use `127.0.0.1:7233`', usedBy: ['all'],
    meaning: 'Temporal frontend `host:port`',
  },
  {
    names: ['TEMPORAL_NAMESPACE'], default: '`default`', usedBy: ['all'],
    meaning: 'namespace; created when missing, its retention set from `DURABOX_TASK_RETENTION_DAYS`',
  },
  {
    names: ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA'], default: 'unset', usedBy: ['all'],
    meaning: 'file paths for mTLS to a production Temporal (a worker behind the host gateway uses the certificate of its start report instead)',
  },
  {
    names: ['TEMPORAL_TLS_SERVER_NAME'], default: 'unset → the host of `TEMPORAL_ADDRESS`', usedBy: ['all'],
    meaning: 'the name Temporal\'s certificate must carry, when the address is not that name (an IP, a load balancer)',
  },
  {
    names: ['DURABOX_TEMPORAL_UI_URL'], default: '`http://127.0.0.1:8233`', usedBy: ['api'],
    meaning: 'where operators open the Temporal UI; the dashboard links each task\'s workflow there',
  },
  {
    names: ['DURABOX_TEMPORAL_CLI'], default: '`temporal` on `PATH`', usedBy: ['`npm start`', 'tests', 'bench'],
    meaning: 'the Temporal CLI binary for the dev server',
  },
  {
    names: ['DURABOX_TEMPORAL_DEV_PORT', 'DURABOX_TEMPORAL_DEV_UI_PORT'], default: '`7233`, `8233`', usedBy: ['`npm start`'],
    meaning: 'the ports of the dev server `npm start` runs on 127.0.0.1 (when TEMPORAL_ADDRESS is unset): its gRPC frontend and its web UI',
  },
  {
    names: ['DURABOX_LOG_LEVEL'], default: '`info`', usedBy: ['all'],
    meaning: 'level of the process\'s JSON log lines (`trace`, `debug`, `info`, `warn`, `error`, `fatal`, `silent`); see *Logs*',
  },
  {
    names: ['DURABOX_TEMPORAL_LOG_LEVEL'], default: '`WARN`', usedBy: ['all'],
    meaning: 'log level of the Temporal SDK\'s own lines (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`)',
  },
  {
    names: ['DURABOX_HASH_KEY'], default: 'required for `npm run api`; `npm start` generates one into the data dir', usedBy: ['api'],
    meaning: 'HMAC key for access-token, worker-secret and login-session hashes',
  },
  {
    names: ['DURABOX_ADMIN_USERNAME', 'DURABOX_ADMIN_PASSWORD'], default: '`admin`, generated and printed once', usedBy: ['api'],
    meaning: 'the first admin, created on the first start only',
  },
  {
    names: ['DURABOX_ENABLE_REGISTRATION'], default: '`false`', usedBy: ['api'],
    meaning: 'admin may create non-admin accounts (`POST /console/register`)',
  },
  {
    names: ['DURABOX_TASK_RETENTION_DAYS'], default: '`30`', usedBy: ['api'],
    meaning: 'how long finished tasks stay readable (the namespace\'s retention)',
  },
  {
    names: ['DURABOX_PREVIEW_DOMAIN'], default: 'unset', usedBy: ['api'],
    meaning: 'a wildcard domain routed to the API: a session\'s port is then also served at `<port>-<session id>.<domain>`, an origin of its own (`docs/workbench/ports.md`)',
  },
  {
    names: ['DURABOX_TRUST_PROXY'], default: '`false`', usedBy: ['api'],
    meaning: 'trust `X-Forwarded-*` from one reverse proxy in front (secure cookies behind TLS; the client address is the last `X-Forwarded-For` entry, the one that proxy wrote)',
  },
  {
    names: ['DURABOX_SECURE_COOKIES'], default: '`false` → Secure when the request came over TLS (the API\'s own, or a trusted proxy\'s `X-Forwarded-Proto`)', usedBy: ['api'],
    meaning: 'the login cookie is always `Secure`: set it behind a TLS-terminating proxy that is not trusted with `X-Forwarded-*`, so a browser never sends the cookie over plain HTTP',
  },
  {
    names: ['DURABOX_TLS_CERT', 'DURABOX_TLS_KEY'], default: 'unset → plain HTTP', usedBy: ['api'],
    meaning: 'PEM files: the API serves HTTPS itself (REST, MCP, dashboard, and the registry workers report to); unset, put a TLS-terminating proxy in front of any API that workers reach over a network',
  },
  {
    names: ['DURABOX_EAGER_START'], default: '`true`', usedBy: ['api'],
    meaning: 'hand a new task\'s first workflow task straight back to the API\'s own control worker with the start call (saves one matching hop); `false` leaves it to the queue',
  },
  {
    names: ['DURABOX_ACTIVITY_HEARTBEAT_TIMEOUT_MS'], default: '`10000`', usedBy: ['api'],
    meaning: 'how long a running execution may go without a heartbeat before Temporal retries it on another worker',
  },
  {
    names: ['DURABOX_METRICS_TOKEN'], default: 'unset', usedBy: ['api'],
    meaning: 'when set, `GET /metrics` answers only `Authorization: Bearer <it>` (for a scraper); unset, metrics are open, as health checks are',
  },
  {
    names: ['OTEL_EXPORTER_OTLP_ENDPOINT'], default: 'unset → no tracing at all', usedBy: ['api', 'worker'],
    meaning: 'an OpenTelemetry collector\'s OTLP/HTTP base URL (`http://collector:4318`); spans are posted to `<it>/v1/traces` as JSON (see *Traces*)',
  },
  {
    names: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'], default: 'unset', usedBy: ['api', 'worker'],
    meaning: 'the full traces URL, used as it is instead of the above',
  },
  {
    names: ['OTEL_SERVICE_NAME'], default: '`durabox-api`, `durabox-worker` (`durabox` under `npm start`)', usedBy: ['api', 'worker'],
    meaning: 'the `service.name` of this process\'s spans',
  },
  {
    names: ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_BSP_*', 'OTEL_TRACES_SAMPLER', 'OTEL_SDK_DISABLED'], default: 'the OpenTelemetry SDK\'s', usedBy: ['api', 'worker'],
    meaning: 'read as the OpenTelemetry specification says: headers for the collector (`authorization=Bearer …`), attributes on every span (`deployment.environment=prod`), batching (`OTEL_BSP_SCHEDULE_DELAY`, 5000 ms), sampling (parent-based, always on by default); `OTEL_SDK_DISABLED=true` turns tracing off',
  },
  {
    names: ['DURABOX_PAYLOAD_KEY'], default: 'unset → payloads plain (the API warns); `npm start` generates one into the data dir', usedBy: ['api'],
    meaning: '32 random bytes in base64 (`openssl rand -base64 32`): seals every Temporal payload with AES-256-GCM; runtime workers receive it from the API with their start report, so hosts are never configured with it',
  },
  {
    names: ['DURABOX_PAYLOAD_OLD_KEYS'], default: 'unset', usedBy: ['api'],
    meaning: 'comma-separated earlier keys, still used to open what they sealed after a rotation',
  },
  {
    names: ['DURABOX_PAYLOAD_ACCEPT_PLAIN'], default: '`false`', usedBy: ['api'],
    meaning: 'with a payload key, also open payloads that are not sealed (histories written before encryption was turned on); off, such a payload is refused, so whoever reaches Temporal without the key cannot hand a workflow a forged input. Turn it on only while such histories are kept',
  },
  {
    names: ['DURABOX_HOST_GATEWAY'], default: 'unset → hosts reach Temporal directly with `TEMPORAL_ADDRESS`', usedBy: ['api'],
    meaning: 'the host gateway\'s address as execution hosts dial it (`host:port`). Set, the API signs a certificate for each host\'s start report and tells the host to reach Temporal only there; the start command from `POST /workers` then names no Temporal address',
  },
  {
    names: ['DURABOX_HOST_CA_CERT', 'DURABOX_HOST_CA_KEY'], default: '`<data dir>/host-ca.crt`, `<data dir>/host-ca.key`, made at the API\'s first start when missing', usedBy: ['api', 'gateway'],
    meaning: 'the CA that signs host certificates and the gateway\'s own (ECDSA P-256); every API process and the gateway need the same two files',
  },
  {
    names: ['DURABOX_GATEWAY_ADDR'], default: '`:7243`', usedBy: ['gateway'],
    meaning: 'the host gateway\'s listen address',
  },
  {
    names: ['DURABOX_GATEWAY_RECHECK_SEC'], default: '`5`', usedBy: ['gateway'],
    meaning: 'how often the credentials of connected hosts are read again: a host whose credential was deleted or replaced gets no new work within this long (its polls end, every other call answers `UNAUTHENTICATED`)',
  },
  {
    names: ['DURABOX_GATEWAY_DRAIN_SEC'], default: '`30`', usedBy: ['gateway'],
    meaning: 'how long such a host may still report the work it was already running (heartbeats, results), so a decommissioned host drains; then its connections are cut',
  },
  {
    names: ['DURABOX_GATEWAY_MAX_TASK_TOKENS'], default: '`100000`', usedBy: ['gateway'],
    meaning: 'how many activity task tokens the gateway remembers, each bound to the host that polled it (about 200 bytes each); a host may heartbeat or report only on a token it was handed. A token goes when its attempt ends or times out; when this many are held, the host holding the most loses its oldest',
  },
  {
    names: ['DURABOX_ACCOUNT_MAX_RUNNING_TASKS'], default: '`64`', usedBy: ['api'],
    meaning: 'tasks an account may have queued or running at once (each sync wait is one); beyond it `429 quota_exceeded` naming `max_running_tasks`. An admin may override it per account',
  },
  {
    names: ['DURABOX_ACCOUNT_MAX_SESSIONS'], default: '`100`', usedBy: ['api'],
    meaning: 'live terminal sessions per account; beyond it a new session gets `429 quota_exceeded` (`max_sessions`)',
  },
  {
    names: ['DURABOX_ACCOUNT_MAX_TOKENS'], default: '`100`', usedBy: ['api'],
    meaning: 'access tokens per account; beyond it `429 quota_exceeded` (`max_tokens`)',
  },
  {
    names: ['DURABOX_TEMPLATE_BUILD_TIMEOUT_SEC'], default: '`900`', usedBy: ['api', 'worker'],
    meaning: 'longest one host\'s build of an account template may run: past it the host aborts the build (its build container goes) and answers it as failed',
  },
  {
    names: ['DURABOX_TEMPLATE_MAX_MEMORY_MB', 'DURABOX_TEMPLATE_MAX_CPUS'], default: '`4096`, `2`', usedBy: ['api'],
    meaning: 'largest `memory_mb` and `cpus` a template may ask for its sandboxes; above it `POST /templates` is `400` naming the field',
  },
  {
    names: ['DURABOX_TEMPLATE_NETWORKS'], default: '`none,allowlist`', usedBy: ['api'],
    meaning: 'network policies templates may be created with, comma-separated from `none`, `allowlist`, `full`, for every account (admins too); `full` reaches any public address through the host\'s egress proxy, never the host, private ranges or other sandboxes (docs/security/egress.md)',
  },
  {
    names: ['DURABOX_ACCOUNT_MAX_TEMPLATES'], default: '`20`', usedBy: ['api'],
    meaning: 'templates an account may own (`POST /templates`); beyond it `429 quota_exceeded` (`max_templates`); 0: none',
  },
  {
    names: ['DURABOX_ACCOUNT_MAX_SNAPSHOTS', 'DURABOX_ACCOUNT_MAX_SNAPSHOT_MB'], default: '`50`, `2048`', usedBy: ['api'],
    meaning: 'named snapshots an account may keep (`POST /sessions/:id/snapshots`), and the MiB they may take in the snapshot store together (compressed); beyond either `429 quota_exceeded` (`max_snapshots`, `max_snapshot_mb`); an admin may change both per account',
  },
  {
    names: ['DURABOX_STREAM_RETENTION_SEC'], default: '`900`', usedBy: ['api'],
    meaning: 'how long output chunks are kept for streams (a late client replays them); the task\'s result holds the whole output after that',
  },
  {
    names: ['DURABOX_API_URL'], default: '`http://127.0.0.1:8089`', usedBy: ['worker'],
    meaning: 'where a worker reports and heartbeats (the start command sets it)',
  },
  {
    names: ['DURABOX_API_CA'], default: 'unset → the system\'s CAs', usedBy: ['worker'],
    meaning: 'a PEM file of CAs the worker trusts for the API\'s certificate, besides the system\'s (a private CA)',
  },
  {
    names: ['DURABOX_API_INSECURE'], default: '`false`', usedBy: ['worker'],
    meaning: 'allow a plain `http://` `DURABOX_API_URL` to another machine (the worker\'s secret then crosses the network in clear). Without it such a URL stops the worker at start; plain HTTP to this machine\'s loopback is always allowed',
  },
  {
    names: ['DURABOX_WORKER_ID'], default: '`host-<hostname>` (`local` under `npm start`)', usedBy: ['worker'],
    meaning: 'the worker\'s identity (its `node_id` from `POST /workers`) and the label on its containers',
  },
  {
    names: ['DURABOX_WORKER_SECRET'], default: 'unset: a standalone worker refuses to start; `npm start` makes one for `local`', usedBy: ['worker'],
    meaning: 'the credential\'s secret, shown once by `POST /workers`',
  },
  {
    names: ['DURABOX_RUNTIMES'], default: '`python,terminal`', usedBy: ['worker'],
    meaning: 'runtimes this host serves',
  },
  {
    names: ['DOCKER_HOST'], default: 'unset → `/var/run/docker.sock`', usedBy: ['worker'],
    meaning: 'the Docker daemon the worker drives (read by dockerode, as the `docker` CLI reads it): one worker per daemon',
  },
  {
    names: ['DURABOX_MAX_INFLIGHT'], default: '`4`', usedBy: ['worker'],
    meaning: 'concurrent executions per runtime, and warm containers kept ready per runtime (python sandboxes; started, unassigned session containers)',
  },
  {
    names: ['DURABOX_HOST_MAX_SESSIONS'], default: '`512`', usedBy: ['worker'],
    meaning: 'sessions this host holds at once; a new one beyond it goes to another host, or gets `429 no_capacity` when every host is full. The host\'s own queue gets `2 × this + 16` slots, so every session\'s step and file call starts at once',
  },
  {
    names: ['DURABOX_REAP_INTERVAL_SEC'], default: '`30`', usedBy: ['worker'],
    meaning: 'how often the host removes containers of sessions that ended without its help (a lost host that came back, a missed removal); a container goes after two sweeps in a row found no running session naming it',
  },
  {
    names: ['DURABOX_TUNNEL_LISTEN'], default: '`127.0.0.1:0`', usedBy: ['worker'],
    meaning: 'where the host listens for the API\'s streams into its sessions (ports, browser, terminals; `docs/workbench/tunnel.md`): `host:port`, port `0` for any free one. Set an address the API processes reach, on a private network: each stream needs a grant the API signed for this host, but its bytes are not encrypted',
  },
  {
    names: ['DURABOX_TUNNEL_ADVERTISE'], default: 'the listen address', usedBy: ['worker'],
    meaning: 'the `host:port` the API is told to reach this host\'s tunnel listener at, when it differs from the listen address (NAT, `0.0.0.0`)',
  },
  {
    names: ['DURABOX_RELAY_DIR'], default: '`<tmp>/durabox-relay`', usedBy: ['worker'],
    meaning: 'where the host makes each session container\'s relay socket (one directory per container, mounted read-only into it); only the worker\'s user and Docker can enter it',
  },
  {
    names: ['DURABOX_SANDBOX_MAX_USES'], default: '`50`', usedBy: ['worker'],
    meaning: 'executions one warm python container serves (reset in between) before it is replaced; `1` = a new container every time',
  },
  {
    names: ['DURABOX_OUTPUT_LIMIT_BYTES'], default: '`1048576`', usedBy: ['worker'],
    meaning: 'per-stream output cap',
  },
  {
    names: ['DURABOX_HEARTBEAT_INTERVAL_SEC', 'DURABOX_HEARTBEAT_JITTER_PCT'], default: '`5`, `20`', usedBy: ['worker'],
    meaning: 'worker heartbeat to the API; offline after 3 missed intervals',
  },
  {
    names: ['DURABOX_PYTHON_IMAGE', 'DURABOX_TERMINAL_IMAGE'], default: '`durabox/python:4`, `durabox/terminal:6`', usedBy: ['worker', 'image script'],
    meaning: 'images per runtime',
  },
  {
    names: ['DURABOX_BUILD_CA_FILE'], default: '`/etc/ssl/certs/ca-certificates.crt`', usedBy: ['worker', 'image script'],
    meaning: 'CA bundle pip and npm trust while building images and account templates (a proxy that re-signs TLS has its CA here); empty: the image\'s own',
  },
  {
    names: ['DURABOX_BUILD_INDEXES'], default: '`pypi.org:443,files.pythonhosted.org:443,registry.npmjs.org:443,deb.debian.org:80,deb.debian.org:443`, plus port 80 and 443 of each DURABOX_EGRESS_HOSTS name', usedBy: ['worker'],
    meaning: 'the only `host:port` patterns a template build reaches (comma-separated, as a template\'s `allow`): its steps run on an internal network whose one peer is the egress proxy, which allows just these',
  },
  {
    names: ['DURABOX_TEMPLATE_BUILD_MEMORY_MB', 'DURABOX_TEMPLATE_BUILD_CPUS', 'DURABOX_TEMPLATE_BUILD_PIDS'], default: '`2048`, `1`, `512`', usedBy: ['worker'],
    meaning: 'limits of each step of a template build (memory with swap off, CPUs, processes)',
  },
  {
    names: ['DURABOX_TEMPLATE_POOLS_MAX'], default: '`8`', usedBy: ['worker'],
    meaning: 'python sandbox pools of account templates a host keeps (each one idle sandbox); beyond it the least recently used idle pool is closed',
  },
  {
    names: ['DURABOX_EGRESS_SUBNET'], default: '`10.213.0.0/16`', usedBy: ['worker'],
    meaning: 'IPv4 range (/8 to /26) the own networks of allow-list and `full` sandboxes are cut from, a /29 each; pick one no other network of the host uses',
  },
  {
    names: ['DURABOX_EGRESS_PRIVATE_CIDRS'], default: 'empty', usedBy: ['worker'],
    meaning: 'private or local addresses (comma-separated, CIDR ranges or single addresses) that allow-list and `full` sandboxes may reach through the egress proxy; empty: public addresses only, never one of the host\'s own (public ones too), so no sandbox reaches the host, its services or other sandboxes',
  },
  {
    names: ['DURABOX_EGRESS_HOSTS'], default: 'empty', usedBy: ['worker'],
    meaning: 'names the egress proxy resolves itself, comma-separated `name=ipv4` (a package mirror on a private network; its address must also be in DURABOX_EGRESS_PRIVATE_CIDRS)',
  },
  {
    names: ['DURABOX_PYTHON_MEMORY_MB', 'DURABOX_TERMINAL_MEMORY_MB'], default: '`256`, `512`', usedBy: ['worker'],
    meaning: 'memory limit (swap off)',
  },
  {
    names: ['DURABOX_PYTHON_CPUS', 'DURABOX_TERMINAL_CPUS'], default: '`1`, `1`', usedBy: ['worker'],
    meaning: 'CPU limit',
  },
  {
    names: ['DURABOX_PYTHON_PIDS_LIMIT', 'DURABOX_TERMINAL_PIDS_LIMIT'], default: '`128`, `128`', usedBy: ['worker'],
    meaning: 'process limit',
  },
  {
    names: ['DURABOX_PYTHON_TMPFS_MB', 'DURABOX_TERMINAL_TMPFS_MB'], default: '`64`, `192`', usedBy: ['worker'],
    meaning: 'size of each writable tmpfs (`/tmp`, `/workspace`); cut so that all of them leave 64 MB of the memory limit free (tmpfs pages count as the container\'s memory)',
  },
  {
    names: ['DURABOX_PYTHON_NETWORK', 'DURABOX_TERMINAL_NETWORK'], default: '`false`', usedBy: ['worker'],
    meaning: 'give the runtime\'s own sandboxes (not its templates\') the Docker bridge instead of no network: they then reach the host, its LAN and other bridged containers; only behind a firewall',
  },
  {
    names: ['DURABOX_SESSION_LEASE_DEFAULT_SEC'], default: '`60`', usedBy: ['api'],
    meaning: 'a session\'s lease when a call names none',
  },
  {
    names: ['DURABOX_SESSION_LEASE_MIN_SEC', 'DURABOX_SESSION_LEASE_MAX_SEC'], default: '`60`, `1800`', usedBy: ['api'],
    meaning: 'bounds a call\'s `lease_ttl_sec` is clamped to',
  },
  {
    names: ['DURABOX_SESSION_MAX_LIFETIME_SEC'], default: '`86400`', usedBy: ['api'],
    meaning: 'hard end of a session, whatever its lease',
  },
  {
    names: ['DURABOX_SESSION_HOST_TIMEOUT_MS'], default: '`5000`', usedBy: ['api'],
    meaning: 'a session step its host does not pick up within this long: the workflow asks when the host last reported; a host silent for `DURABOX_SESSION_HOST_GONE_SEC` is lost, and the session moves to another host from its checkpoint (`restored: true`), or ends as `session_lost` when it has none; otherwise the step waits for it',
  },
  {
    names: ['DURABOX_SESSION_FILE_MAX_BYTES'], default: '`1048576` (max 1400000)', usedBy: ['api', 'worker'],
    meaning: 'largest file moved in or out of a session in one call',
  },
  {
    names: ['DURABOX_SESSION_COMMANDS_PER_RUN'], default: '`500`', usedBy: ['api'],
    meaning: 'commands per session workflow run before continue-as-new',
  },
  {
    names: ['DURABOX_SESSION_DURABILITY'], default: '`zero`', usedBy: ['api'],
    meaning: '`zero`: a command, cell or file call that changed `/workspace` has its change stored in the snapshot store (as a delta of what changed) before it is answered, so a session restored anywhere holds every acknowledged step. `interval`: checkpoints are taken in the background, at most every `DURABOX_SESSION_CHECKPOINT_SEC`, and a host lost for good costs up to that much work; steps answer a little sooner',
  },
  {
    names: ['DURABOX_SESSION_CHECKPOINT_SEC'], default: '`10`', usedBy: ['api'],
    meaning: 'with `DURABOX_SESSION_DURABILITY=interval`: after a command or file call, the session\'s host saves what changed in `/workspace` to the snapshot store (the platform\'s database), at most once per this many seconds. With `zero`: how soon an idle session\'s chain of deltas is compacted into one full checkpoint. `0`: no checkpoints (a lost host then ends its sessions as `session_lost`)',
  },
  {
    names: ['DURABOX_SESSION_HOST_GONE_SEC'], default: '`30`', usedBy: ['api'],
    meaning: 'a session\'s host whose worker has not reported for this long is gone: its sessions move to another host from their checkpoint. Until then a step its host does not pick up (`DURABOX_SESSION_HOST_TIMEOUT_MS`) waits for the host to come back, so a restarted worker keeps its sessions in place',
  },
  {
    names: ['DURABOX_SESSION_PAUSE_AFTER_SEC'], default: '`300`', usedBy: ['api'],
    meaning: 'a session idle this long is checkpointed and its container removed (`status: paused`, no host memory); its next call resumes it on any terminal host. `0`: never paused',
  },
  {
    names: ['DURABOX_SESSION_CHECKPOINT_MAX_BYTES'], default: '`67108864`', usedBy: ['api', 'worker'],
    meaning: 'largest `/workspace` a checkpoint holds, as an uncompressed tar; a larger workspace keeps its older checkpoint (a move restores that one) and is not paused until it shrinks. At most 1 GiB in PostgreSQL (the API holds a part in memory on its way to the database), 4 GiB with `DURABOX_SNAPSHOT_URL` (parts stream through)',
  },
  {
    names: ['DURABOX_SNAPSHOT_URL'], default: 'unset → the platform\'s PostgreSQL', usedBy: ['api'],
    meaning: 'where the bytes of sessions\' checkpoints go: `s3://bucket/prefix` stores each part as the object `<prefix>/<account>/<session>/<seq>` in an S3-compatible bucket (which must exist), streamed in parts; the chains\' rows stay in the database. See docs/sessions/snapshot-store.md',
  },
  {
    names: ['DURABOX_SNAPSHOT_S3_ENDPOINT'], default: 'unset → AWS S3 of the region', usedBy: ['api'],
    meaning: 'with `DURABOX_SNAPSHOT_URL`: the URL of an S3-compatible server (`http://127.0.0.1:8333` for a local SeaweedFS)',
  },
  {
    names: ['DURABOX_SNAPSHOT_S3_REGION'], default: '`us-east-1`', usedBy: ['api'],
    meaning: 'with `DURABOX_SNAPSHOT_URL`: the bucket\'s region (signed into every request)',
  },
  {
    names: ['DURABOX_SNAPSHOT_S3_ACCESS_KEY_ID', 'DURABOX_SNAPSHOT_S3_SECRET_ACCESS_KEY'], default: 'unset → the AWS SDK\'s default credentials', usedBy: ['api'],
    meaning: 'with `DURABOX_SNAPSHOT_URL`: the key pair that signs requests to the bucket; unset, the SDK looks in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a profile or an instance role',
  },
  {
    names: ['DURABOX_SNAPSHOT_S3_PATH_STYLE'], default: '`true` with an endpoint, else `false`', usedBy: ['api'],
    meaning: 'with `DURABOX_SNAPSHOT_URL`: address the bucket in the path (`endpoint/bucket/key`) rather than in the host name (`bucket.endpoint/key`)',
  },
  {
    names: ['DURABOX_SESSION_MAX_INFLIGHT_CALLS'], default: '`8`', usedBy: ['api'],
    meaning: 'calls (commands, cells, file calls) one API process sends a session at once; more wait their turn. Temporal refuses a workflow more than 10 in-flight Updates (`history.maxInFlightUpdates`): with several API processes, keep their sum near that, or raise the server\'s limit; a call refused anyway answers 429 `rate_limited`',
  },
  {
    names: ['DURABOX_IMAGE_SOURCE'], default: '`rootfs`', usedBy: ['image script'],
    meaning: '`rootfs` (debootstrap + `docker import`, no registry needed) or `dockerfile`',
  },
  {
    names: ['DURABOX_TEST_DATABASE_URL'], default: '`postgres://durabox:durabox@127.0.0.1:5432/durabox_test`', usedBy: ['tests'],
    meaning: 'server where each test run creates its own database',
  },
  {
    names: ['DURABOX_TEST_DATABASE'], default: '`postgres`', usedBy: ['tests'],
    meaning: '`embedded` runs the end-to-end platform on PGlite, as `npm start` does (`npm run test:embedded` sets it)',
  },
  {
    names: ['DURABOX_CHROMIUM'], default: '`/usr/bin/chromium`', usedBy: ['tests'],
    meaning: 'the Chromium binary the dashboard test drives',
  },
];

/** The settings table of docs/settings.md, in markdown. */
export function settingsTable(settings: SettingDoc[] = SETTINGS): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    row(['variable', 'default', 'used by', 'meaning']),
    row(['---', '---', '---', '---']),
    ...settings.map((s) => row([s.names.map((n) => `\`${n}\``).join(', '), s.default, s.usedBy.join(', '), s.meaning])),
  ].join('\n');
}

/** The settings a process reads (its own and those of `all`), for its `--help`. */
export function settingsOf(users: SettingUser[]): SettingDoc[] {
  return SETTINGS.filter((s) => s.usedBy.some((u) => u === 'all' || users.includes(u)));
}
