// Session checkpoints (spec §6): the latest gzipped tar of each session's /workspace, in the platform's
// database, so every host reaches it through the API and a small install needs no other component.
// A snapshot never travels through Temporal: the session workflow records only its digest, size and time.
import type { Db } from './index.js';
import { rowsTouched } from './index.js';

export interface SnapshotMeta { digest: string; raw_bytes: number; bytes: number; created_at: Date }

export class SnapshotStore {
  constructor(private readonly db: Db) {}

  /** Replaces the session's checkpoint with this one. */
  async put(accountId: string, sessionId: string, s: { digest: string; rawBytes: number; data: Buffer }): Promise<SnapshotMeta> {
    const row = { account_id: accountId, session_id: sessionId, digest: s.digest, raw_bytes: s.rawBytes, data: s.data, created_at: new Date() };
    await this.db('session_snapshots').insert(row).onConflict(['account_id', 'session_id']).merge(['digest', 'raw_bytes', 'data', 'created_at']);
    return { digest: s.digest, raw_bytes: s.rawBytes, bytes: s.data.length, created_at: row.created_at };
  }

  /** The session's checkpoint, when it has one. */
  async get(accountId: string, sessionId: string): Promise<(SnapshotMeta & { data: Buffer }) | undefined> {
    const r = await this.db('session_snapshots').where({ account_id: accountId, session_id: sessionId }).first();
    if (!r) return undefined;
    const data = Buffer.from(r.data as Uint8Array);
    return { digest: r.digest, raw_bytes: Number(r.raw_bytes), bytes: data.length, created_at: new Date(r.created_at), data };
  }

  /** Drops the session's checkpoint (its session ended); answers whether there was one. */
  async drop(accountId: string, sessionId: string): Promise<boolean> {
    return rowsTouched(await this.db('session_snapshots').where({ account_id: accountId, session_id: sessionId }).delete()) > 0;
  }
}
