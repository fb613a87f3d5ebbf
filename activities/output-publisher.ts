// Forwards the output of work running on this host to the API while it runs, for streams (spec §3.3).
// A stream's chunks are batched for a few milliseconds into one post, so a chatty program costs a post
// per batch, not per line; a post that fails is retried once and then dropped: streams are a view,
// and the durable result (the workflow's) holds the whole output anyway. Work that ends before its first
// batch went out posts nothing at all: its result arrives as soon as its chunks would, and holds them
// (the API's streams then give the result's output as the chunks), so short tasks cost no post.
import type { OnChunk } from '../sandbox/frame-channel.js';
import { componentLog, type Logger } from '../config/log.js';

interface Pending { seq: number; stream: 'stdout' | 'stderr'; text: string }
export interface OutputPost { streams: Array<{ stream_id: string; grant: string; chunks: Pending[] }> }

/** How long chunks wait for company before they are posted. */
export const OUTPUT_BATCH_MS = 15;

export class OutputPublisher {
  private pending = new Map<string, Pending[]>();
  /** Each stream's grant (control/host-grants.ts), which the API checks on every post. */
  private readonly grants = new Map<string, string>();
  /** Streams with chunks already posted: their last chunks are posted too when the work ends. */
  private readonly live = new Set<string>();
  /** Each stream waits for its own batch time, so one stream's chunks never push another's out early. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private posting: Promise<void> = Promise.resolve();

  constructor(
    private readonly post: (body: OutputPost) => Promise<void>,
    private readonly log: Logger = componentLog('worker'),
  ) {}

  /**
   * A chunk sink for one stream. `base` separates attempts: a retried activity numbers its chunks after
   * the earlier attempt's, so nothing written before is overwritten or lost.
   */
  sink(streamId: string, base: number, grant: string): OnChunk {
    let seq = base;
    this.grants.set(streamId, grant);
    return (c) => {
      if (!c.text) return;
      let list = this.pending.get(streamId);
      if (!list) this.pending.set(streamId, (list = []));
      list.push({ seq: seq++, stream: c.stream, text: c.text });
      if (!this.timers.has(streamId)) this.timers.set(streamId, setTimeout(() => void this.flush([streamId]), OUTPUT_BATCH_MS));
    };
  }

  /** The work of a stream has ended: post its last chunks if the stream is live, else drop them. */
  finish(streamId: string): void {
    if (this.live.delete(streamId)) {
      void this.flush([streamId]); // takes the grant with the chunks before it goes
    } else {
      clearTimeout(this.timers.get(streamId));
      this.timers.delete(streamId);
      this.pending.delete(streamId);
    }
    this.grants.delete(streamId);
  }

  /** Posts what is pending now (of the given streams, or all); resolves when every post so far has been answered. */
  flush(streamIds: Iterable<string> = [...this.pending.keys()]): Promise<void> {
    const streams: OutputPost['streams'] = [];
    for (const id of streamIds) {
      clearTimeout(this.timers.get(id));
      this.timers.delete(id);
      const chunks = this.pending.get(id);
      if (!chunks) continue;
      this.pending.delete(id);
      this.live.add(id);
      streams.push({ stream_id: id, grant: this.grants.get(id) ?? '', chunks });
    }
    if (streams.length > 0) {
      // Posts go one after another, so a stream's chunks arrive in order.
      this.posting = this.posting.then(() => this.post({ streams }).catch(() => this.post({ streams })).catch((e: Error) => {
        this.log.warn({ streams: streams.length, reason: e.message }, 'output not forwarded to the API (streams only; results hold it)');
      }));
    }
    return this.posting;
  }
}

/** Chunk numbers of one activity attempt start here, so attempts never collide. */
export function attemptBase(attempt: number): number {
  return (Math.max(1, attempt) - 1) * 1_000_000;
}
