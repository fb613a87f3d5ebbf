// Workers (spec §4.3). Two audiences: the admin manages credentials and watches the hosts from the
// dashboard (`/workers*`, login cookie), and each runtime worker reports itself to the registry
// (`/registry/*`, its own credential) at start and on every heartbeat.
import { DuraboxError } from '../../contract/errors.js';
import { GRANT_HEADER, isResourceId } from '../../contract/schemas.js';
import { openGrant, type GrantClaims } from '../../control/host-grants.js';
import { Fenced, type ChainPart } from '../../db/snapshots.js';
import { PartTooLarge } from '../../db/snapshot-blobs.js';
import { CheckpointTooLarge, DigestMismatch } from '../../sandbox/checkpoint-stream.js';
import { generateWorkerSecret, keyedHash, newId } from '../../control/security.js';
import { CertificateRequestInvalid, type HostCa } from '../../temporal/certs.js';
import { liveSessionContainers } from '../../control/visibility.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';

/** A worker is offline after this many heartbeat intervals (stretched by its jitter) without one. */
export const MISSED_HEARTBEATS = 3;

type WorkerOps = 'listWorkers' | 'workerStats' | 'workerInflight' | 'createWorker' | 'deleteWorker' | 'workerStartupCommand' | 'registryHeartbeat' | 'registryGoodbye' | 'registryOutput' | 'registrySessions' | 'registryPutSnapshot' | 'registryClaimSnapshot' | 'registryGetSnapshot';

export function workerHandlers(deps: AppDeps): Pick<Handlers, WorkerOps> {
  return {
    async listWorkers(ctx, { query: q }) {
      const { items, total } = await deps.workers.list({ status: q.status, page: q.page, pageSize: q.page_size });
      ctx.body = { items, total, page: q.page, page_size: q.page_size };
    },

    async workerStats(ctx, { query: q }) {
      const stats = await deps.workers.stats(q.stale_after_sec);
      ctx.body = { ...stats, stale_after_sec: q.stale_after_sec, generated_at: new Date() };
    },

    async workerInflight(ctx) {
      ctx.body = { workers: await deps.workers.inflight(), generated_at: new Date() };
    },

    async createWorker(ctx) {
      const nodeId = newId('wrk');
      const secret = generateWorkerSecret();
      await deps.workers.createCredential({ nodeId, secretHash: keyedHash(deps.hashKey, secret), createdBy: ctx.state.account!.id });
      ctx.status = 201;
      // The secret's only appearance: the database keeps its keyed hash.
      ctx.body = { node_id: nodeId, command: startCommand(deps, `${ctx.protocol}://${ctx.host}`, nodeId, secret), worker_secret: secret };
    },

    async deleteWorker(ctx) {
      if (!isResourceId(ctx.params.node_id) || !(await deps.workers.delete(ctx.params.node_id))) throw new DuraboxError('not_found', 'worker not found');
      ctx.status = 204;
    },

    workerStartupCommand() {
      throw new DuraboxError('gone', 'the worker secret is shown only once, when the worker is created; delete the worker and create a new one to get a new start command');
    },

    /** The start report and every heartbeat: a refused one (401) tells the worker to stop taking work. */
    async registryHeartbeat(ctx, { body }) {
      const offlineAfterMs = Math.ceil(MISSED_HEARTBEATS * body.heartbeat_interval_sec * 1000 * (1 + body.heartbeat_jitter_pct / 100));
      const known = await deps.workers.report(ctx.state.workerId!, {
        node_name: body.node_name,
        executor_kind: body.executor_kind,
        version: body.version,
        labels: body.labels,
        capabilities: body.capabilities,
        offline_after_ms: offlineAfterMs,
        tunnel_address: body.tunnel_address,
      }, body.event === 'start');
      if (!known) throw new DuraboxError('unauthenticated', 'invalid worker credential');
      const start = body.event === 'start';
      // The start report gets the payload keys and the host certificate: only a live credential receives them.
      ctx.body = {
        node_id: ctx.state.workerId,
        status: 'online',
        offline_after_ms: offlineAfterMs,
        tunnel_key: deps.tunnels.publicKey,
        ...(start && deps.api.payloadKeys ? { payload_keys: deps.api.payloadKeys } : {}),
        ...(start && body.csr && deps.hostCa ? await hostCertificate(deps, deps.hostCa, ctx.state.workerId!, body.csr) : {}),
      };
    },

    /** Output of work running on the worker's host: stored a short while and announced to every API process. */
    async registryOutput(ctx, { body }) {
      body.streams.forEach((s, i) => requireGrant(deps, s.grant, { kind: 'output', subject: s.stream_id, hostId: ctx.state.workerId! }, `streams.${i}.grant`));
      await deps.output.append(body.streams.map(({ stream_id, chunks }) => ({ stream_id, chunks })));
      ctx.status = 204;
    },

    /** What the host's reaper must keep: the host itself has no access to Temporal's visibility. */
    async registrySessions(ctx) {
      ctx.body = { container_ids: await liveSessionContainers(deps.client, ctx.state.workerId!) };
    },

    /**
     * A part of a session's checkpoint from its host, streamed into the snapshot store as it arrives (with
     * the S3 store it never sits whole in this process). The store inflates it beside, so its digest and
     * size are the store's own; a digest the host sends must match them. The grant names the generation of
     * the container the host writes from: an older one than the chain's is fenced off (409), before the
     * body is read.
     */
    async registryPutSnapshot(ctx, { query: q }) {
      const claims = requireGrant(deps, ctx.get(GRANT_HEADER), { kind: 'snapshot', accountId: q.account_id, subject: q.session_id, hostId: ctx.state.workerId! }, GRANT_HEADER);
      const rawMaxBytes = deps.api.session.checkpointMaxBytes;
      // The cap is on the tar; gzip of incompressible bytes is a little larger than its input.
      const limits = { maxBytes: Math.ceil(rawMaxBytes * 1.01) + 65536, rawMaxBytes, ...(q.digest ? { digest: q.digest } : {}) };
      const declared = Number(ctx.get('content-length') || NaN);
      if (declared === 0) throw new DuraboxError('invalid_input', 'invalid request body: a checkpoint is a gzipped tar, not empty');
      if (declared > limits.maxBytes) throw new DuraboxError('file_too_large', `checkpoint larger than ${limits.maxBytes} bytes (DURABOX_SESSION_CHECKPOINT_MAX_BYTES)`);
      const stored = await fenced(() => partRefused(() => deps.snapshots.appendStream(q.account_id, q.session_id, claims.g ?? 0, q.kind, ctx.req, limits)));
      ctx.status = 201;
      ctx.body = partView(stored);
    },

    /** The chain a restoring host unpacks, claimed for the generation its grant names. */
    async registryClaimSnapshot(ctx, { query: q }) {
      const claims = requireGrant(deps, ctx.get(GRANT_HEADER), { kind: 'snapshot', accountId: q.account_id, subject: q.session_id, hostId: ctx.state.workerId! }, GRANT_HEADER);
      const parts = await fenced(() => deps.snapshots.claim(q.account_id, q.session_id, claims.g ?? 0));
      ctx.body = { parts: parts.map(partView) };
    },

    /** A part's bytes, streamed from the snapshot store to the restoring host. */
    async registryGetSnapshot(ctx, { query: q }) {
      requireGrant(deps, ctx.get(GRANT_HEADER), { kind: 'snapshot', accountId: q.account_id, subject: q.session_id, hostId: ctx.state.workerId! }, GRANT_HEADER);
      const s = await deps.snapshots.open(q.account_id, q.session_id, q.seq);
      if (!s) throw new DuraboxError('not_found', 'no checkpoint of that session');
      ctx.type = 'application/gzip';
      ctx.length = s.bytes;
      ctx.set('X-Snapshot-Digest', s.digest);
      ctx.set('X-Snapshot-Created-At', s.created_at.toISOString());
      ctx.body = s.body;
    },

    /** A worker shutting down: offline at once, so no new task counts on it. */
    async registryGoodbye(ctx) {
      await deps.workers.markStopped(ctx.state.workerId!);
      ctx.status = 204;
    },
  };
}

/**
 * A host reaches a checkpoint or an output stream only with the grant of a step it was given for that
 * work (control/host-grants.ts): its credential alone says who it is, not what it holds.
 */
function requireGrant(deps: AppDeps, grant: string | undefined, want: Parameters<typeof openGrant>[2], field: string): GrantClaims {
  const opened = openGrant(deps.hashKey, grant || undefined, want);
  if (typeof opened === 'string') throw new DuraboxError('forbidden', `${field}: ${opened}`);
  return opened;
}

/** A write or claim from a container older than the chain's: refused as `fenced`. */
async function fenced<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof Fenced) throw new DuraboxError('fenced', e.message);
    throw e;
  }
}

/** A part the store refused for what it is (too large, not gzip, a digest that does not match): 4xx naming it. */
async function partRefused<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof PartTooLarge || e instanceof CheckpointTooLarge) throw new DuraboxError('file_too_large', `${e.message}`);
    if (e instanceof DigestMismatch) throw new DuraboxError('invalid_input', 'digest: does not match the sha256 of the uploaded tar');
    if (typeof (e as { errno?: unknown }).errno === 'number' && (e as { code?: string }).code?.startsWith('Z_')) {
      throw new DuraboxError('invalid_input', `invalid request body: a checkpoint is a gzipped tar (${(e as Error).message})`);
    }
    // The host stopped sending (its workspace outgrew the cap, or it went away): nothing was stored.
    const code = (e as { code?: string }).code ?? '';
    if (['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code) || code.startsWith('HPE_')) throw new DuraboxError('invalid_input', 'invalid request body: the upload was cut off before its end');
    throw e;
  }
}

const partView = (p: ChainPart) => ({ ...p, created_at: p.created_at.toISOString() });

/** Signs the host's request under its current credential (a replaced credential voids the certificate). */
async function hostCertificate(deps: AppDeps, ca: HostCa, workerId: string, csr: string): Promise<{ host_certificate: { cert: string; ca: string }; temporal_address: string }> {
  const secretHash = await deps.workers.secretHashOf(workerId);
  if (!secretHash) throw new DuraboxError('unauthenticated', 'invalid worker credential');
  try {
    return { host_certificate: { cert: await ca.issueHost(csr, workerId, secretHash), ca: ca.certPem }, temporal_address: deps.api.hostGateway! };
  } catch (e) {
    if (e instanceof CertificateRequestInvalid) throw new DuraboxError('invalid_input', `invalid request body: csr: ${e.message}`);
    throw e;
  }
}

/** The command an operator runs on the execution host, where the durabox package is installed (`durabox` on PATH). */
function startCommand(deps: AppDeps, apiUrl: string, nodeId: string, secret: string): string {
  const env: Record<string, string> = {
    DURABOX_API_URL: apiUrl,
    DURABOX_WORKER_ID: nodeId,
    DURABOX_WORKER_SECRET: secret,
    // Behind a host gateway the host learns its Temporal address (and certificate) from its start report.
    ...(deps.api.hostGateway ? {} : { TEMPORAL_ADDRESS: deps.temporal.address ?? '127.0.0.1:7233' }),
  };
  if (deps.temporal.namespace !== 'default') env.TEMPORAL_NAMESPACE = deps.temporal.namespace;
  return [...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`), 'durabox worker'].join(' \\\n');
}

function shellQuote(v: string): string {
  return /^[A-Za-z0-9_.:/@%+=,-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`;
}
