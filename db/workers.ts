// The host registry: one row per worker credential, updated by that worker's start report and heartbeats.
// A worker is online while its heartbeats arrive: stopped_at unset and last seen within offline_after_ms
// (about three heartbeat intervals, as the worker itself reported them). Time is the database's clock.
import { rowsTouched, type Db } from './index.js';
import { UniqueViolation } from './accounts.js';

export type WorkerStatus = 'online' | 'offline';

/** What a worker says about itself in every report. `name` of a capability is a runtime (`python`, …). */
export interface WorkerReport {
  node_name: string;
  executor_kind: string;
  version: string;
  labels: Record<string, string>;
  capabilities: Array<{ name: string; max_inflight: number; inflight: number }>;
  offline_after_ms: number;
  /** Where the API reaches the host's tunnel listener (host:port), when the host serves sessions. */
  tunnel_address?: string;
}

export interface WorkerView {
  node_id: string;
  node_name: string;
  executor_kind: string;
  capabilities: Array<{ name: string; max_inflight: number }>;
  labels: Record<string, string>;
  version: string;
  status: WorkerStatus;
  registered_at: Date;
  last_seen_at: Date | null;
}

interface WorkerRow {
  node_id: string;
  node_name: string;
  executor_kind: string;
  capabilities: WorkerReport['capabilities'];
  labels: Record<string, string>;
  version: string;
  created_at: Date;
  registered_at: Date | null;
  last_seen_at: Date | null;
  online: boolean;
}

const ONLINE = `coalesce(stopped_at is null and last_seen_at > now() - offline_after_ms * interval '1 millisecond', false)`;
const COLUMNS = ['node_id', 'node_name', 'executor_kind', 'capabilities', 'labels', 'version', 'created_at', 'registered_at', 'last_seen_at'];

export class WorkerStore {
  constructor(private readonly db: Db) {}

  /** A new credential (POST /workers). The secret arrives as its keyed hash. */
  async createCredential(c: { nodeId: string; secretHash: string; createdBy: string | null }): Promise<void> {
    try {
      await this.db('workers').insert({ node_id: c.nodeId, secret_hash: c.secretHash, created_by: c.createdBy });
    } catch (e) {
      const err = e as { code?: string; constraint?: string };
      if (err.code === '23505') throw new UniqueViolation(err.constraint ?? 'workers_pkey');
      throw e;
    }
  }

  /** Creates or replaces the credential of a fixed id: `npm start`'s local worker and the tests' workers. */
  async putCredential(c: { nodeId: string; secretHash: string }): Promise<void> {
    await this.db('workers').insert({ node_id: c.nodeId, secret_hash: c.secretHash }).onConflict('node_id').merge(['secret_hash']);
  }

  async secretHashOf(nodeId: string): Promise<string | undefined> {
    const row = await this.db('workers').select('secret_hash').where({ node_id: nodeId }).first();
    return row?.secret_hash;
  }

  /** Records a report; false when the credential no longer exists. A start report also sets registered_at. */
  async report(nodeId: string, r: WorkerReport, starting: boolean): Promise<boolean> {
    const now = this.db.fn.now();
    const n = await this.db('workers').where({ node_id: nodeId }).update({
      node_name: r.node_name,
      executor_kind: r.executor_kind,
      version: r.version,
      labels: JSON.stringify(r.labels),
      capabilities: JSON.stringify(r.capabilities),
      offline_after_ms: r.offline_after_ms,
      tunnel_address: r.tunnel_address ?? null,
      last_seen_at: now,
      stopped_at: null,
      ...(starting ? { registered_at: now } : {}),
    });
    return rowsTouched(n) > 0;
  }

  /** Where the API reaches a worker's tunnel listener, while the worker is online. */
  async tunnelAddress(nodeId: string): Promise<string | undefined> {
    const r = await this.db('workers').where({ node_id: nodeId }).whereRaw(ONLINE).first('tunnel_address');
    return r?.tunnel_address ?? undefined;
  }

  /** Milliseconds since the worker last reported (by the database's clock); null: never, or no such worker. */
  async silentMs(nodeId: string): Promise<number | null> {
    const r = await this.db('workers').where({ node_id: nodeId }).first(this.db.raw(`extract(epoch from (now() - last_seen_at)) * 1000 as silent_ms`));
    return r?.silent_ms === null || r?.silent_ms === undefined ? null : Math.max(0, Number(r.silent_ms));
  }

  /** A worker that shuts down says so, and is offline at once instead of after its heartbeats stop. */
  async markStopped(nodeId: string): Promise<void> {
    await this.db('workers').where({ node_id: nodeId }).update({ stopped_at: this.db.fn.now() });
  }

  async delete(nodeId: string): Promise<boolean> {
    return rowsTouched(await this.db('workers').where({ node_id: nodeId }).delete()) > 0;
  }

  async list(q: { status: 'all' | WorkerStatus; page: number; pageSize: number }): Promise<{ items: WorkerView[]; total: number }> {
    const filtered = () => {
      const b = this.db('workers');
      if (q.status === 'online') b.whereRaw(ONLINE);
      if (q.status === 'offline') b.whereRaw(`not ${ONLINE}`);
      return b;
    };
    const [{ n }] = await filtered().count<{ n: string }[]>({ n: '*' });
    const rows: WorkerRow[] = await filtered()
      .select([...COLUMNS, this.db.raw(`${ONLINE} as online`)])
      .orderBy([{ column: 'created_at' }, { column: 'node_id' }])
      .offset((q.page - 1) * q.pageSize)
      .limit(q.pageSize);
    return { items: rows.map(view), total: Number(n) };
  }

  /** Counts; `stale` = workers not heard from for staleAfterSec, whatever their status (as the reference counts). */
  async stats(staleAfterSec: number): Promise<{ total: number; online: number; offline: number; stale: number }> {
    const [row] = await this.db('workers').select(
      this.db.raw('count(*) as total'),
      this.db.raw(`count(*) filter (where ${ONLINE}) as online`),
      this.db.raw(`count(*) filter (where coalesce(last_seen_at, created_at) < now() - ? * interval '1 second') as stale`, [staleAfterSec]),
    );
    const total = Number(row.total);
    const online = Number(row.online);
    return { total, online, offline: total - online, stale: Number(row.stale) };
  }

  /** In-flight executions per runtime of every online worker, as of its last heartbeat. */
  async inflight(): Promise<Array<{ node_id: string; capabilities: WorkerReport['capabilities'] }>> {
    const rows = await this.db('workers').select('node_id', 'capabilities').whereRaw(ONLINE).orderBy('node_id');
    return rows.map((r) => ({
      node_id: r.node_id,
      capabilities: (r.capabilities as WorkerReport['capabilities']).map((c) => ({ name: c.name, inflight: c.inflight, max_inflight: c.max_inflight })),
    }));
  }

  /** Whether some online worker serves the runtime: the API answers 503 no_worker when none does. */
  async hasOnlineWorkerFor(runtime: string): Promise<boolean> {
    return (await this.servingRuntime(runtime).first()) !== undefined;
  }

  /** The online workers that serve the runtime (a template's build goes to each of them). */
  async onlineWorkersFor(runtime: string): Promise<string[]> {
    return (await this.servingRuntime(runtime).orderBy('node_id')).map((r: { node_id: string }) => r.node_id);
  }

  private servingRuntime(runtime: string) {
    return this.db('workers').select('node_id').whereRaw(ONLINE).andWhereRaw('capabilities @> ?::jsonb', [JSON.stringify([{ name: runtime }])]);
  }
}

function view(r: WorkerRow): WorkerView {
  return {
    node_id: r.node_id,
    node_name: r.node_name,
    executor_kind: r.executor_kind,
    capabilities: r.capabilities.map((c) => ({ name: c.name, max_inflight: c.max_inflight })),
    labels: r.labels,
    version: r.version,
    status: r.online ? 'online' : 'offline',
    registered_at: r.registered_at ?? r.created_at,
    last_seen_at: r.last_seen_at,
  };
}
