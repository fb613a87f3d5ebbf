// Workers (spec §4.3). Two audiences: the admin manages credentials and watches the hosts from the
// dashboard (`/workers*`, login cookie), and each runtime worker reports itself to the registry
// (`/registry/*`, its own credential) at start and on every heartbeat.
import { DuraboxError } from '../../contract/errors.js';
import { isResourceId } from '../../contract/schemas.js';
import { generateWorkerSecret, keyedHash, newId } from '../../control/security.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';

/** A worker is offline after this many heartbeat intervals (stretched by its jitter) without one. */
export const MISSED_HEARTBEATS = 3;

type WorkerOps = 'listWorkers' | 'workerStats' | 'workerInflight' | 'createWorker' | 'deleteWorker' | 'workerStartupCommand' | 'registryHeartbeat' | 'registryGoodbye' | 'registryOutput';

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
      }, body.event === 'start');
      if (!known) throw new DuraboxError('unauthenticated', 'invalid worker credential');
      // The start report gets the payload keys: only a worker with a live credential receives them.
      ctx.body = { node_id: ctx.state.workerId, status: 'online', offline_after_ms: offlineAfterMs, ...(body.event === 'start' && deps.api.payloadKeys ? { payload_keys: deps.api.payloadKeys } : {}) };
    },

    /** Output of work running on the worker's host: stored a short while and announced to every API process. */
    async registryOutput(ctx, { body }) {
      await deps.output.append(body.streams);
      ctx.status = 204;
    },

    /** A worker shutting down: offline at once, so no new task counts on it. */
    async registryGoodbye(ctx) {
      await deps.workers.markStopped(ctx.state.workerId!);
      ctx.status = 204;
    },
  };
}

/** The command an operator runs on the execution host, from a checkout of durabox. */
function startCommand(deps: AppDeps, apiUrl: string, nodeId: string, secret: string): string {
  const env: Record<string, string> = {
    DURABOX_API_URL: apiUrl,
    DURABOX_WORKER_ID: nodeId,
    DURABOX_WORKER_SECRET: secret,
    TEMPORAL_ADDRESS: deps.temporal.address ?? '127.0.0.1:7233',
  };
  if (deps.temporal.namespace !== 'default') env.TEMPORAL_NAMESPACE = deps.temporal.namespace;
  return [...Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`), 'npm run worker'].join(' \\\n');
}

function shellQuote(v: string): string {
  return /^[A-Za-z0-9_.:/@%+=,-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`;
}
