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
//
// Forks and named snapshots (docs/sessions/fork-and-snapshots.md) copy a chain's parts as rows, inside one
// transaction that holds the source's head, so a copy is always a whole chain as some step left it.
// Their bytes are copied too: as part of the rows in PostgreSQL, as objects in the bucket (PartBlobs.copy).
//
// The rows above are always in this database; a part's bytes go where the PartBlobs keeps them (its own
// row, or an S3-compatible bucket: db/snapshot-blobs.ts). A part is written in three steps: its number is
// taken under the head's lock (a fenced host is refused before it sends anything), its bytes are stored,
// then its row is written under the lock again (a host fenced meanwhile is refused, and its bytes
// deleted). Only that last step lists it: a part whose bytes did not all arrive is never in a chain.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import { DuraboxError } from '../contract/errors.js';
import { quotaExceeded } from '../contract/limits.js';
import type { Db } from './index.js';
import { rowsTouched } from './index.js';
import { PostgresBlobs, type PartBlobs, type PartKey } from './snapshot-blobs.js';
import { DigestMismatch, InflateMeter } from '../sandbox/checkpoint-stream.js';
import { componentLog, errorFields } from '../config/log.js';

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

/** What a streamed part may be: its compressed size, its inflated size, and the digest its sender claims (checked). */
export interface PartLimits { maxBytes: number; rawMaxBytes: number; digest?: string }

type Key = { account_id: string; session_id: string };
type NamedKey = { account_id: string; name: string };

/** A named snapshot of an account: a copy of a session's chain as it stood when it was taken. */
export interface NamedSnapshot {
  name: string;
  source_session_id: string;
  /** The account template the session ran in; absent: the built-in terminal one. */
  template: string | null;
  parts: number;
  bytes: number;
  raw_bytes: number;
  created_at: Date;
}

/** The per-account bounds a new named snapshot must stay within. */
export interface SnapshotQuota { maxSnapshots: number; maxMb: number }

const PART_COLS = 'seq, digest, raw_bytes, bytes, data, created_at';

const log = componentLog('api');

export class SnapshotStore {
  constructor(private readonly db: Db, readonly blobs: PartBlobs = new PostgresBlobs()) {}

  /**
   * Adds a part to the session's chain, written by its container of `generation`, as its sender made it
   * (digest and size as given). A full part becomes the chain's new base, and the parts before it go.
   */
  async append(accountId: string, sessionId: string, generation: number, kind: PartKind, s: { digest: string; rawBytes: number; data: Buffer }): Promise<ChainPart> {
    return this.write(accountId, sessionId, generation, kind, async (key) => {
      const stored = await this.blobs.put(key, Readable.from([s.data]), Number.MAX_SAFE_INTEGER);
      return { ...stored, digest: s.digest, rawBytes: s.rawBytes };
    });
  }

  /**
   * Adds a part that arrives as a stream of gzip (a host's upload). It is inflated beside being stored, so
   * its digest and size are the store's own (a claimed `digest` must match): more than `maxBytes` of gzip
   * or `rawMaxBytes` of tar, or bytes that are not gzip, and nothing is stored.
   */
  async appendStream(accountId: string, sessionId: string, generation: number, kind: PartKind, body: Readable, limits: PartLimits): Promise<ChainPart> {
    return this.write(accountId, sessionId, generation, kind, async (key) => {
      const meter = new InflateMeter(limits.rawMaxBytes);
      const flow = pipeline(body, meter);
      let stored;
      try {
        stored = await this.blobs.put(key, meter, limits.maxBytes);
        await flow;
      } catch (e) {
        meter.destroy();
        await flow.catch(() => undefined);
        throw meter.errored ?? e;
      }
      if (limits.digest && limits.digest !== meter.digest) throw new DigestMismatch();
      return { ...stored, digest: meter.digest, rawBytes: meter.rawBytes };
    });
  }

  /** Takes the part's number, stores its bytes with `store`, then lists it: see the top of this file. */
  private async write(accountId: string, sessionId: string, generation: number, kind: PartKind, store: (key: PartKey) => Promise<{ bytes: number; data: Buffer | null; digest: string; rawBytes: number }>): Promise<ChainPart> {
    const key: Key = { account_id: accountId, session_id: sessionId };
    const seq = await this.db.transaction(async (tx) => {
      const head = await lockHead(tx, key, generation);
      const next = head.last_seq + 1;
      await tx('session_snapshot_heads').where(key).update({ last_seq: next, generation: Math.max(generation, head.generation) });
      return next;
    });
    const partKey = { accountId, sessionId, seq };
    let replaced: PartKey[] = [];
    let part: ChainPart;
    try {
      const s = await store(partKey);
      const createdAt = new Date();
      await this.db.transaction(async (tx) => {
        await lockHead(tx, key, generation);
        const row = { ...key, seq, digest: s.digest, raw_bytes: s.rawBytes, bytes: s.bytes, data: s.data, created_at: createdAt };
        if (kind === 'delta') {
          await tx('session_snapshot_deltas').insert(row);
          return;
        }
        const base = await tx('session_snapshots').where(key).first('seq');
        const deltas = await tx('session_snapshot_deltas').where(key).andWhere('seq', '<', seq).select('seq');
        replaced = [...(base ? [base] : []), ...deltas].map((r) => ({ accountId, sessionId, seq: Number(r.seq) }));
        await tx('session_snapshots').insert(row).onConflict(['account_id', 'session_id']).merge(['seq', 'digest', 'raw_bytes', 'bytes', 'data', 'created_at']);
        await tx('session_snapshot_deltas').where(key).andWhere('seq', '<', seq).delete();
      });
      part = { seq, kind, digest: s.digest, raw_bytes: s.rawBytes, bytes: s.bytes, created_at: createdAt };
    } catch (e) {
      // Whatever arrived of a part that is not listed goes (a session's end would take it anyway).
      await this.blobs.delete([partKey]).catch((d: Error) => log.warn({ ...errorFields(d), session_id: sessionId, seq }, 'could not delete the bytes of a checkpoint part that was not stored'));
      throw e;
    }
    // The chain no longer names them: a failure here leaves bytes that the session's end deletes.
    if (replaced.length > 0) await this.blobs.delete(replaced).catch((d: Error) => log.warn({ ...errorFields(d), session_id: sessionId }, 'could not delete replaced checkpoint parts'));
    return part;
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

  /** The chain's head: the newest container generation that wrote or claimed it (undefined: none has). */
  async generation(accountId: string, sessionId: string): Promise<number | undefined> {
    const head = await this.db('session_snapshot_heads').where({ account_id: accountId, session_id: sessionId }).first('generation');
    return head ? Number(head.generation) : undefined;
  }

  /** The chain as it stands, without claiming it. */
  async chain(accountId: string, sessionId: string): Promise<ChainPart[]> {
    return listChain(this.db, { account_id: accountId, session_id: sessionId });
  }

  /**
   * One part's bytes as a stream: the part `seq` (the base or a delta), or the base when `seq` is absent.
   * A part stored in the database before the bytes moved elsewhere is read from its row.
   */
  async open(accountId: string, sessionId: string, seq?: number): Promise<(ChainPart & { body: Readable }) | undefined> {
    const key: Key = { account_id: accountId, session_id: sessionId };
    const base = await this.db('session_snapshots').where(seq === undefined ? key : { ...key, seq }).first();
    const r = base ?? (seq === undefined ? undefined : await this.db('session_snapshot_deltas').where({ ...key, seq }).first());
    if (!r) return undefined;
    const part = partOf(r, base ? 'full' : 'delta');
    const body = r.data ? Readable.from([Buffer.from(r.data as Uint8Array)]) : await this.blobs.get({ accountId, sessionId, seq: part.seq });
    return body && { ...part, body };
  }

  /** Drops the session's whole chain (its session ended), bytes and all; answers whether there was one. */
  async drop(accountId: string, sessionId: string): Promise<boolean> {
    const key: Key = { account_id: accountId, session_id: sessionId };
    const had = await this.db.transaction(async (tx) => {
      const base = rowsTouched(await tx('session_snapshots').where(key).delete());
      const deltas = rowsTouched(await tx('session_snapshot_deltas').where(key).delete());
      await tx('session_snapshot_heads').where(key).delete();
      return base + deltas > 0;
    });
    // After the rows: a failure here fails the drop, which its caller (an activity) tries again, rows gone or not.
    await this.blobs.deletePrefix(accountId, sessionId);
    return had;
  }

  /**
   * Copies the session's chain to a new session's id (a fork), in one transaction that holds the source's
   * appends back meanwhile. The copy's head has generation 0, so the new session's first container claims
   * it. Answers the parts copied (empty: the source had none, and nothing was written).
   */
  async copyChain(accountId: string, fromSession: string, toSession: string): Promise<ChainPart[]> {
    const from: Key = { account_id: accountId, session_id: fromSession };
    const to: Key = { account_id: accountId, session_id: toSession };
    return this.db.transaction(async (tx) => {
      await tx('session_snapshot_heads').where(from).forShare().first();
      const parts = await listChain(tx, from);
      if (parts.length === 0) return parts;
      await refuseChainAt(tx, to);
      const baseSeq = parts[0].kind === 'full' ? parts[0].seq : 0;
      await this.copyBytes(await keptElsewhere(tx, from, baseSeq), (seq) => ({ accountId, sessionId: fromSession, seq }), (seq) => ({ accountId, sessionId: toSession, seq }));
      await tx.raw(`insert into session_snapshots (account_id, session_id, ${PART_COLS}) select account_id, ?, ${PART_COLS} from session_snapshots where account_id = ? and session_id = ? and seq = ?`, [toSession, accountId, fromSession, baseSeq]);
      await tx.raw(`insert into session_snapshot_deltas (account_id, session_id, ${PART_COLS}) select account_id, ?, ${PART_COLS} from session_snapshot_deltas where account_id = ? and session_id = ? and seq > ?`, [toSession, accountId, fromSession, baseSeq]);
      await tx('session_snapshot_heads').insert({ ...to, generation: 0, last_seq: parts.at(-1)!.seq });
      return parts;
    });
  }

  /**
   * Keeps the session's chain as it stands under `name` of its account, within the account's quota (checked
   * in the same transaction, one creation at a time per account). `emptyOk`: a session with no stored part
   * is kept as an empty workspace; else it is refused (it has no checkpoint yet).
   */
  async saveNamed(accountId: string, sessionId: string, name: string, opts: { template: string | null; quota: SnapshotQuota; emptyOk: boolean }): Promise<NamedSnapshot> {
    const from: Key = { account_id: accountId, session_id: sessionId };
    const key: NamedKey = { account_id: accountId, name };
    return this.db.transaction(async (tx) => {
      // One creation at a time per account: the quota counts what the others left.
      await tx('accounts').where({ id: accountId }).forUpdate().first('id');
      if (await tx('named_snapshots').where(key).first('name')) throw new DuraboxError('conflict', `name: the account already has a snapshot named ${name}; delete it first or choose another name`);
      await tx('session_snapshot_heads').where(from).forShare().first();
      const parts = await listChain(tx, from);
      if (parts.length === 0 && !opts.emptyOk) {
        throw new DuraboxError('conflict', `session ${sessionId} has no checkpoint yet (with DURABOX_SESSION_DURABILITY=interval its first comes after DURABOX_SESSION_CHECKPOINT_SEC); try again shortly`);
      }
      const bytes = parts.reduce((n, p) => n + p.bytes, 0);
      const held = await tx('named_snapshots').where({ account_id: accountId }).first(tx.raw('count(*) as n'), tx.raw('coalesce(sum(bytes), 0) as bytes'));
      if (Number(held.n) >= opts.quota.maxSnapshots) throw quotaExceeded('max_snapshots', opts.quota.maxSnapshots);
      if (Number(held.bytes) + bytes > opts.quota.maxMb * 1024 * 1024) throw quotaExceeded('max_snapshot_mb', opts.quota.maxMb);
      const row = { ...key, source_session_id: sessionId, template: opts.template, parts: parts.length, bytes, raw_bytes: parts.reduce((n, p) => n + p.raw_bytes, 0), created_at: new Date() };
      await tx('named_snapshots').insert(row);
      const baseSeq = parts[0]?.kind === 'full' ? parts[0].seq : 0;
      await this.copyBytes(await keptElsewhere(tx, from, baseSeq), (seq) => ({ accountId, sessionId, seq }), (seq) => namedPart(accountId, name, seq));
      await tx.raw(`insert into named_snapshot_parts (account_id, name, kind, ${PART_COLS}) select account_id, ?, 'full', ${PART_COLS} from session_snapshots where account_id = ? and session_id = ? and seq = ?`, [name, accountId, sessionId, baseSeq]);
      await tx.raw(`insert into named_snapshot_parts (account_id, name, kind, ${PART_COLS}) select account_id, ?, 'delta', ${PART_COLS} from session_snapshot_deltas where account_id = ? and session_id = ? and seq > ?`, [name, accountId, sessionId, baseSeq]);
      return namedOf(row);
    });
  }

  /**
   * Copies the account's snapshot `name` to a new session's chain (a session started from it), as a fork
   * does. Undefined: the account has no snapshot of that name.
   */
  async copyNamedToSession(accountId: string, name: string, toSession: string): Promise<{ snapshot: NamedSnapshot; parts: ChainPart[] } | undefined> {
    const key: NamedKey = { account_id: accountId, name };
    const to: Key = { account_id: accountId, session_id: toSession };
    return this.db.transaction(async (tx) => {
      const row = await tx('named_snapshots').where(key).forShare().first();
      if (!row) return undefined;
      const cols = ['seq', 'kind', 'digest', 'raw_bytes', 'bytes', 'created_at', tx.raw('data is null as elsewhere')];
      const rows = await tx('named_snapshot_parts').where(key).orderBy('seq').select(cols);
      const parts = rows.map((r) => partOf(r, r.kind === 'full' ? 'full' : 'delta'));
      if (parts.length > 0) {
        await refuseChainAt(tx, to);
        await this.copyBytes(rows.filter((r) => r.elsewhere).map((r) => Number(r.seq)), (seq) => namedPart(accountId, name, seq), (seq) => ({ accountId, sessionId: toSession, seq }));
        await tx.raw(`insert into session_snapshots (account_id, session_id, ${PART_COLS}) select account_id, ?, ${PART_COLS} from named_snapshot_parts where account_id = ? and name = ? and kind = 'full'`, [toSession, accountId, name]);
        await tx.raw(`insert into session_snapshot_deltas (account_id, session_id, ${PART_COLS}) select account_id, ?, ${PART_COLS} from named_snapshot_parts where account_id = ? and name = ? and kind = 'delta'`, [toSession, accountId, name]);
        await tx('session_snapshot_heads').insert({ ...to, generation: 0, last_seq: parts.at(-1)!.seq });
      }
      return { snapshot: namedOf(row), parts };
    });
  }

  async listNamed(accountId: string): Promise<NamedSnapshot[]> {
    return (await this.db('named_snapshots').where({ account_id: accountId }).orderBy('created_at', 'desc').orderBy('name')).map(namedOf);
  }

  async getNamed(accountId: string, name: string): Promise<NamedSnapshot | undefined> {
    const r = await this.db('named_snapshots').where({ account_id: accountId, name }).first();
    return r ? namedOf(r) : undefined;
  }

  /** Deletes the account's snapshot `name` with its parts; answers whether there was one. */
  async deleteNamed(accountId: string, name: string): Promise<boolean> {
    const had = await this.db.transaction(async (tx) => {
      await tx('named_snapshot_parts').where({ account_id: accountId, name }).delete();
      return rowsTouched(await tx('named_snapshots').where({ account_id: accountId, name }).delete()) > 0;
    });
    // After the rows, as a session's drop does.
    await this.blobs.deletePrefix(accountId, namedOwner(name));
    return had;
  }

  /**
   * Copies the bytes of the parts `seqs` kept outside their rows, inside the copy's transaction (before its
   * rows are listed: a copy never names bytes that are not there yet). Bytes copied by a copy that then
   * fails are deleted again where possible, else go with their owner.
   */
  private async copyBytes(seqs: number[], from: (seq: number) => PartKey, to: (seq: number) => PartKey): Promise<void> {
    const done: PartKey[] = [];
    try {
      for (const seq of seqs) {
        await this.blobs.copy(from(seq), to(seq));
        done.push(to(seq));
      }
    } catch (e) {
      await this.blobs.delete(done).catch(() => undefined);
      throw e;
    }
  }
}

/** A chain is copied only to a session that has none: never over a live session's own chain. */
async function refuseChainAt(tx: Knex.Transaction, to: Key): Promise<void> {
  const head = await tx('session_snapshot_heads').where(to).first('session_id');
  const base = head ? undefined : await tx('session_snapshots').where(to).first('session_id');
  if (head || base) throw new DuraboxError('conflict', `session ${to.session_id} already has a checkpoint: a copy goes only to a new session`);
}

function namedOf(r: Record<string, unknown>): NamedSnapshot {
  return {
    name: String(r.name), source_session_id: String(r.source_session_id), template: r.template == null ? null : String(r.template),
    parts: Number(r.parts), bytes: Number(r.bytes), raw_bytes: Number(r.raw_bytes), created_at: new Date(r.created_at as string),
  };
}

const PART_COLUMNS = ['seq', 'digest', 'raw_bytes', 'bytes', 'created_at'];

/** A named snapshot's parts sit beside its account's sessions: `<prefix>/<account>/snapshots/<name>/<seq>` (names are plain). */
const namedOwner = (name: string) => `snapshots/${name}`;
const namedPart = (accountId: string, name: string, seq: number): PartKey => ({ accountId, sessionId: namedOwner(name), seq });

/** The numbers of the chain's parts (from `baseSeq` on) whose bytes are not in their rows. */
async function keptElsewhere(tx: Knex.Transaction, key: Key, baseSeq: number): Promise<number[]> {
  const base = await tx('session_snapshots').where({ ...key, seq: baseSeq }).whereNull('data').select('seq');
  const deltas = await tx('session_snapshot_deltas').where(key).andWhere('seq', '>', baseSeq).whereNull('data').select('seq');
  return [...base, ...deltas].map((r) => Number(r.seq));
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
  const base = await q('session_snapshots').where(key).first(PART_COLUMNS);
  const deltas = await q('session_snapshot_deltas').where(key).andWhere('seq', '>', Number(base?.seq ?? 0)).orderBy('seq').select(PART_COLUMNS);
  return [...(base ? [partOf(base, 'full')] : []), ...deltas.map((d) => partOf(d, 'delta'))];
}

function partOf(r: Record<string, unknown>, kind: PartKind): ChainPart {
  return { seq: Number(r.seq), kind, digest: String(r.digest), raw_bytes: Number(r.raw_bytes), bytes: Number(r.bytes), created_at: new Date(r.created_at as string) };
}
