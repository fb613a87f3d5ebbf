// Output chunks of running work, for streams (spec §3.3). Workers post them to any API process, which
// stores them here and announces the stream ids with PostgreSQL NOTIFY; every API process LISTENs, so a
// client streaming from any of them hears of new output at once and reads it from the table. A client
// that connects late reads what was already written. With the embedded database there is one process:
// the announcement stays in it.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Db } from './index.js';
import { componentLog, errorFields } from '../config/log.js';

const log = componentLog('api');

export interface Chunk { seq: number; stream: 'stdout' | 'stderr'; text: string }
export interface StreamChunks { stream_id: string; chunks: Chunk[] }

const CHANNEL = 'durabox_output';

const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const storable = (text: string) => text.replace(UNSTORABLE, '\uFFFD');

export class OutputStore {
  private readonly local = new EventEmitter();
  private listener: pg.Client | undefined;

  private constructor(private readonly db: Db) {
    this.local.setMaxListeners(0);
  }

  /** With a PostgreSQL URL, LISTENs for other API processes' announcements on a connection of its own. */
  static async open(db: Db, databaseUrl: string | undefined): Promise<OutputStore> {
    const store = new OutputStore(db);
    if (databaseUrl) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      client.on('notification', (n) => {
        if (n.channel === CHANNEL && n.payload) store.heard(n.payload);
      });
      client.on('error', (e) => log.error(errorFields(e), 'output stream listener failed'));
      await client.query(`LISTEN ${CHANNEL}`);
      store.listener = client;
    }
    return store;
  }

  /** Stores chunks (a retried post adds nothing twice) and announces their streams to every API process. */
  async append(streams: StreamChunks[]): Promise<void> {
    // PostgreSQL text holds neither NUL nor a lone surrogate: those become U+FFFD, as a terminal shows them.
    const rows = streams.flatMap((s) => s.chunks.map((c) => ({ stream_id: s.stream_id, seq: c.seq, stream: c.stream, text: storable(c.text) })));
    if (rows.length === 0) return;
    await this.db('output_chunks').insert(rows).onConflict(['stream_id', 'seq']).ignore();
    const ids = [...new Set(streams.map((s) => s.stream_id))];
    if (this.listener) {
      await this.db.raw(`select pg_notify('${CHANNEL}', id) from unnest(?::text[]) as id`, [ids]);
    } else {
      for (const id of ids) this.heard(id);
    }
  }

  /**
   * Tells every API process of a small event on a topic (MCP resource changes), over the same channel as
   * output. Its payload starts with `@`, which no stream id does.
   */
  async announce(topic: string, event: unknown): Promise<void> {
    const payload = `@${topic}\n${JSON.stringify(event)}`;
    if (this.listener) await this.db.raw(`select pg_notify('${CHANNEL}', ?)`, [payload]);
    else this.heard(payload);
  }

  /** Calls `onEvent` with each event announced on the topic by any API process; returns the unsubscribe. */
  onAnnouncement(topic: string, onEvent: (event: unknown) => void): () => void {
    const listener = (json: string) => {
      try {
        onEvent(JSON.parse(json));
      } catch (e) {
        log.warn(errorFields(e as Error), 'an announcement could not be handled');
      }
    };
    this.local.on(`@${topic}`, listener);
    return () => this.local.off(`@${topic}`, listener);
  }

  private heard(payload: string): void {
    if (!payload.startsWith('@')) {
      this.local.emit(payload);
      return;
    }
    const cut = payload.indexOf('\n');
    if (cut > 0) this.local.emit(payload.slice(0, cut), payload.slice(cut + 1));
  }

  /** The stream's chunks after `afterSeq`, in order. */
  async since(streamId: string, afterSeq: number): Promise<Chunk[]> {
    return this.db('output_chunks').select('seq', 'stream', 'text').where('stream_id', streamId).andWhere('seq', '>', afterSeq).orderBy('seq');
  }

  /** Calls `onNew` whenever chunks of the stream may have arrived; returns the unsubscribe. */
  subscribe(streamId: string, onNew: () => void): () => void {
    this.local.on(streamId, onNew);
    return () => this.local.off(streamId, onNew);
  }

  /**
   * Follows a stream from its start: `onChunk` gets every chunk once, in order, as it arrives.
   * `drain()` resolves once what is stored by now has been delivered (call it after the work ended).
   */
  follow(streamId: string, onChunk: (c: Chunk) => void): { drain(): Promise<void>; stop(): void } {
    let last = -1;
    let reading: Promise<void> = Promise.resolve();
    const read = () => {
      reading = reading.then(async () => {
        for (const c of await this.since(streamId, last)) {
          last = c.seq;
          onChunk(c);
        }
      }).catch((e: Error) => log.error({ stream_id: streamId, ...errorFields(e) }, 'output stream read failed'));
      return reading;
    };
    const stop = this.subscribe(streamId, () => void read());
    void read();
    return { drain: read, stop };
  }

  /** Forgets chunks older than `olderThanSec`: by then their work has long ended and its result holds them. */
  async sweep(olderThanSec: number): Promise<void> {
    await this.db('output_chunks').where('created_at', '<', this.db.raw(`now() - make_interval(secs => ?)`, [olderThanSec])).delete();
  }

  async close(): Promise<void> {
    await this.listener?.end().catch(() => undefined);
  }
}
