// Checkpoint parts as streams: measured, hashed and bounded while they pass, so that a workspace of a
// gigabyte goes from the container to the snapshot store and back without any process holding it whole.
// The host meters the tar it uploads and the tar it restores; the API inflates what it receives beside
// storing it, to learn the part's digest and size itself and to refuse a gzip bomb before it is stored.
import { createHash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** A checkpoint that inflates past its bound: a gzip bomb, or a workspace larger than this session's. */
export class CheckpointTooLarge extends Error {}

/** A tar cut short (a reader that stopped, a container that went away): no part is made of it. */
export class IncompleteTar extends Error {}

/** Bytes that do not match the digest they were stored under: damaged in store or in transit. */
export class DigestMismatch extends Error {
  constructor() { super('the checkpoint does not match its digest: it was damaged in store or in transit'); }
}

/**
 * Passes a tar through unchanged, counting and hashing it. Past `maxBytes` it fails (CheckpointTooLarge
 * with `tooLarge` as its message); with `wholeTar`, a stream that does not end as a tar ends (two zero
 * blocks) fails as IncompleteTar; with `expectDigest`, one whose sha256 differs fails as DigestMismatch.
 * The failure comes before the stream's end is passed on, so a reader never takes a bad part as whole.
 */
export class TarMeter extends Transform {
  bytes = 0;
  /** The sha256 of what passed, in hex, once it all has. */
  digest = '';
  private readonly hash = createHash('sha256');
  private tail = Buffer.alloc(0);

  constructor(private readonly o: { maxBytes: number; tooLarge?: string; wholeTar?: boolean; expectDigest?: string }) { super(); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.o.maxBytes) {
      done(new CheckpointTooLarge(this.o.tooLarge ?? `the checkpoint is larger than ${this.o.maxBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    if (this.o.wholeTar) this.tail = chunk.length >= 1024 ? Buffer.from(chunk.subarray(-1024)) : Buffer.concat([this.tail, chunk]).subarray(-1024);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    if (this.o.wholeTar && !(this.bytes >= 1024 && this.bytes % 512 === 0 && this.tail.every((b) => b === 0))) {
      done(new IncompleteTar(`the workspace's tar ended after ${this.bytes} bytes, not at the end of an archive`));
      return;
    }
    if (this.o.expectDigest && this.digest !== this.o.expectDigest) {
      done(new DigestMismatch());
      return;
    }
    done();
  }
}

/**
 * Passes a gzipped part through unchanged while it inflates a copy beside it, so that the tar's digest and
 * size are known when the part ends (gzip's own CRC checks the transfer too). Inflating stops at
 * `rawMaxBytes`: past that the part fails as CheckpointTooLarge. Not gzip: a zlib error.
 */
export class InflateMeter extends Transform {
  private readonly gunzip = createGunzip();
  private readonly meter: TarMeter;

  constructor(rawMaxBytes: number) {
    super();
    this.meter = new TarMeter({ maxBytes: rawMaxBytes, tooLarge: `the checkpoint inflates to more than ${rawMaxBytes} bytes (DURABOX_SESSION_CHECKPOINT_MAX_BYTES)` });
    this.gunzip.on('error', (e) => this.destroy(e));
    this.meter.on('error', (e) => this.destroy(e));
    this.gunzip.pipe(this.meter).resume();
  }

  get digest(): string { return this.meter.digest; }
  get rawBytes(): number { return this.meter.bytes; }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.gunzip.write(chunk, (e) => (e ? done(e) : done(null, chunk)));
  }

  override _flush(done: TransformCallback): void {
    this.gunzip.end();
    finished(this.meter).then(() => done(), done);
  }

  override _destroy(e: Error | null, done: (e: Error | null) => void): void {
    this.gunzip.destroy();
    this.meter.destroy();
    done(e);
  }
}
