// Session checkpoints (spec §6), in the platform's database, so every host reaches them through the API
// and a small install needs no other component. A session's checkpoint is a chain: a base (a gzipped tar
// of its whole /workspace) and the deltas stored after it (gzipped tars of what changed since the part
// before, deletions included). A restore unpacks the base, then each delta in order. Every part takes the
// next number of the session's head, in the order its host stored them; a full checkpoint replaces the
// chain before it.
//
// Fencing: each container a session has had carries a generation, higher for each move. The head keeps
// the highest generation that wrote or claimed the chain; a part from an older generation is refused
// (Fenced), so a host that comes back after its session moved away can never write into it again.
// A snapshot never travels through Temporal: the session workflow records only the chain's sizes and times.
import type { Knex } from 'knex';
import type { Db } from './index.js';
import { rowsTouched } from './index.js';

export interface SnapshotMeta { digest: string; raw_bytes: number; bytes: number; created_at: Date }

export type PartKind = 'full' | 'delta';

/** One part of a session's chain, as a restore lists them: the base first, then the deltas in order. */
export interface ChainPart extends SnapshotMeta { seq: number; kind: PartKind }

/** A part written, or a chain claimed, by a container of an older generation than the chain's. */
export class Fenced extends Error {
  constructor(readonly generation: number, readonly current: number) {
    super(`this session's checkpoint belongs to a newer container (generation ${current}) than this host's (generation ${generation}): the session has moved`);
  }
}

type Key = { account_id: string; session_id: string };

export class SnapshotStore {
  constructor(private readonly db: Db) {}

  /**
   * Adds a part to the session's chain, written by its container of `generation`. A full part becomes
   * the chain's new base, and the deltas before it go.
   */
  async append(accountId: string, sessionId: string, generation: number, kind: PartKind, s: { digest: string; rawBytes: number; data: Buffer }): Promise<ChainPart> {
    const key: Key = { account_id: accountId, session_id: sessionId };
    const createdAt = new Date();
    const seq = await this.db.transaction(async (tx) => {
      const head = await lockHead(tx, key, generation);
      const next = head.last_seq + 1;
      await tx('session_snapshot_heads').where(key).update({ last_seq: next, generation: Math.max(generation, head.generation) });
      const row = { ...key, seq: next, digest: s.digest, raw_bytes: s.rawBytes, data: s.data, created_at: createdAt };
      if (kind === 'delta') {
        await tx('session_snapshot_deltas').insert(row);
      } else {
        await tx('session_snapshots').insert(row).onConflict(['account_id', 'session_id']).merge(['seq', 'digest', 'raw_bytes', 'data', 'created_at']);
        await tx('session_snapshot_deltas').where(key).andWhere('seq', '<', next).delete();
      }
      return next;
    });
    return { seq, kind, digest: s.digest, raw_bytes: s.rawBytes, bytes: s.data.length, created_at: createdAt };
  }

  /**
   * The session's chain, for a restore by its container of `generation`: from now on no older
   * generation writes to it. Answers the parts in the order they are unpacked (empty: no checkpoint).
   */
  async claim(accountId: string, sessionId: string, generation: number): Promise<ChainPart[]> {
    const key: Key = { account_id: accountId, session_id: sessionId };
    return this.db.transaction(async (tx) => {
      const head = await lockHead(tx, key, generation);
      if (generation > head.generation) await tx('session_snapshot_heads').where(key).update({ generation });
      return listChain(tx, key);
    });
  }

  /** The chain as it stands, without claiming it. */
  async chain(accountId: string, sessionId: string): Promise<ChainPart[]> {
    return listChain(this.db, { account_id: accountId, session_id: sessionId });
  }

  /** One part's bytes: the base when `seq` is the base's, else that delta. */
  async part(accountId: string, sessionId: string, seq: number): Promise<(ChainPart & { data: Buffer }) | undefined> {
    const key: Key = { account_id: accountId, session_id: sessionId };
    const base = await this.db('session_snapshots').where({ ...key, seq }).first();
    const r = base ?? (await this.db('session_snapshot_deltas').where({ ...key, seq }).first());
    return r ? { ...partOf(r, base ? 'full' : 'delta'), data: Buffer.from(r.data as Uint8Array) } : undefined;
  }

  /** Replaces the session's checkpoint with this full one (a session from before chains: generation 0). */
  async put(accountId: string, sessionId: string, s: { digest: string; rawBytes: number; data: Buffer }): Promise<SnapshotMeta> {
    return this.append(accountId, sessionId, 0, 'full', s);
  }

  /** The session's base checkpoint, when it has one. */
  async get(accountId: string, sessionId: string): Promise<(SnapshotMeta & { data: Buffer }) | undefined> {
    const r = await this.db('session_snapshots').where({ account_id: accountId, session_id: sessionId }).first();
    return r ? { ...partOf(r, 'full'), data: Buffer.from(r.data as Uint8Array) } : undefined;
  }

  /** Drops the session's whole chain (its session ended); answers whether there was one. */
  async drop(accountId: string, sessionId: string): Promise<boolean> {
    const key: Key = { account_id: accountId, session_id: sessionId };
    return this.db.transaction(async (tx) => {
      const base = rowsTouched(await tx('session_snapshots').where(key).delete());
      const deltas = rowsTouched(await tx('session_snapshot_deltas').where(key).delete());
      await tx('session_snapshot_heads').where(key).delete();
      return base + deltas > 0;
    });
  }
}

/** The session's head, locked for this transaction (made when absent); refuses an older generation. */
async function lockHead(tx: Knex.Transaction, key: Key, generation: number): Promise<{ generation: number; last_seq: number }> {
  // A chain stored before heads existed starts numbering after its base.
  const base = await tx('session_snapshots').where(key).first('seq');
  await tx('session_snapshot_heads').insert({ ...key, generation, last_seq: Number(base?.seq ?? 0) }).onConflict(['account_id', 'session_id']).ignore();
  const head = await tx('session_snapshot_heads').where(key).forUpdate().first();
  const current = { generation: Number(head.generation), last_seq: Number(head.last_seq) };
  if (generation < current.generation) throw new Fenced(generation, current.generation);
  return current;
}

async function listChain(q: Knex | Knex.Transaction, key: Key): Promise<ChainPart[]> {
  const cols = ['seq', 'digest', 'raw_bytes', 'created_at', q.raw('length(data) as bytes')];
  const base = await q('session_snapshots').where(key).first(cols);
  const deltas = await q('session_snapshot_deltas').where(key).andWhere('seq', '>', Number(base?.seq ?? 0)).orderBy('seq').select(cols);
  return [...(base ? [partOf(base, 'full')] : []), ...deltas.map((d) => partOf(d, 'delta'))];
}

function partOf(r: Record<string, unknown>, kind: PartKind): ChainPart {
  const bytes = r.bytes !== undefined ? Number(r.bytes) : (r.data as Uint8Array).length;
  return { seq: Number(r.seq), kind, digest: String(r.digest), raw_bytes: Number(r.raw_bytes), bytes, created_at: new Date(r.created_at as string) };
}
