// Where the bytes of checkpoint parts live (docs/sessions/snapshot-store.md). A chain's rows (heads,
// numbers, generations, digests, sizes) are always in the platform's database, so that fencing stays one
// transaction there; only each part's bytes go through a PartBlobs: into the part's own row (PostgreSQL
// bytea, the default) or into an object of an S3-compatible bucket (DURABOX_SNAPSHOT_URL), one object per
// part under `<prefix>/<account>/<session>/<seq>`, so that an account's or a session's parts are one
// prefix to list or delete.
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { SnapshotStoreSettings } from '../config/index.js';

/** One part of a chain: its owner (a session, or a named snapshot's id) and its number. */
export interface PartKey { accountId: string; sessionId: string; seq: number }

/** More bytes than the part may have: the upload is refused whole. */
export class PartTooLarge extends Error {
  constructor(readonly maxBytes: number) { super(`checkpoint part larger than ${maxBytes} bytes`); }
}

export interface PartBlobs {
  readonly kind: 'postgres' | 's3';
  /**
   * Takes a part's bytes in as they arrive, refusing more than `maxBytes` (PartTooLarge). Answers its size
   * and what its row keeps in `data`: the bytes themselves, or null when they are kept here. Nothing of a
   * put that failed is left readable.
   */
  put(key: PartKey, body: Readable, maxBytes: number): Promise<{ bytes: number; data: Buffer | null }>;
  /** A part's bytes kept here (not in its row), as a stream; undefined when there is no such object. */
  get(key: PartKey): Promise<Readable | undefined>;
  /** Copies a part kept here to another key (a named snapshot taken of a session's chain). */
  copy(from: PartKey, to: PartKey): Promise<void>;
  /** Deletes these parts (a full part replaced them); missing ones are no error. */
  delete(keys: PartKey[]): Promise<void>;
  /** Deletes every part of a session (it ended), or of a whole account when `sessionId` is absent. */
  deletePrefix(accountId: string, sessionId?: string): Promise<void>;
}

/** Counts the bytes that pass and fails past `maxBytes`. */
export class ByteCap extends Transform {
  bytes = 0;
  constructor(private readonly maxBytes: number) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) done(new PartTooLarge(this.maxBytes));
    else done(null, chunk);
  }
}

/**
 * The default: a part's bytes go into its own row, in the same transaction as the rest of it. The body is
 * read whole into memory first (bounded by `maxBytes`), which is why this store keeps its 1 GiB cap.
 */
export class PostgresBlobs implements PartBlobs {
  readonly kind = 'postgres' as const;

  async put(_key: PartKey, body: Readable, maxBytes: number): Promise<{ bytes: number; data: Buffer }> {
    const cap = new ByteCap(maxBytes);
    body.on('error', (e) => cap.destroy(e));
    const data = await buffer(body.pipe(cap));
    return { bytes: data.length, data };
  }

  // The row holds the bytes: reading, copying and deleting the row is all there is to it.
  async get(): Promise<undefined> { return undefined; }
  async copy(): Promise<void> {}
  async delete(): Promise<void> {}
  async deletePrefix(): Promise<void> {}
}

/** The object key of a part: `<prefix>/<account>/<session>/<seq>` (no prefix: `<account>/<session>/<seq>`). */
export function partObjectKey(prefix: string, key: PartKey): string {
  return `${ownerPrefix(prefix, key.accountId, key.sessionId)}${key.seq}`;
}

/** Every key of an account's (or one of its sessions') parts starts with this; it ends in `/`, so `s_1` never covers `s_10`. */
export function ownerPrefix(prefix: string, accountId: string, sessionId?: string): string {
  return [prefix, accountId, sessionId].filter((p) => p).map((p) => `${p}/`).join('');
}

/** Part size of a multipart upload: the SDK holds about `UPLOAD_QUEUE` + 1 of these per upload. */
const UPLOAD_PART_BYTES = 8 * 1024 * 1024;
/** Parts in flight at once: two keep the line busy without holding much. */
const UPLOAD_QUEUE = 2;
/** DeleteObjects takes at most this many keys a request. */
const DELETE_BATCH = 1000;

/**
 * Parts as objects of an S3-compatible bucket, through the official AWS SDK v3: a stream goes up as a
 * multipart upload (lib-storage's Upload, a few parts of UPLOAD_PART_BYTES in memory at a time) and comes
 * back as the response body's stream; neither is ever held whole.
 */
export class S3Blobs implements PartBlobs {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(private readonly s: Extract<SnapshotStoreSettings, { kind: 's3' }>) {
    this.client = new S3Client({
      region: s.region,
      ...(s.endpoint ? { endpoint: s.endpoint } : {}),
      forcePathStyle: s.forcePathStyle,
      ...(s.credentials ? { credentials: s.credentials } : {}),
      // Checksums only where S3 requires them: S3-compatible servers do not all take the SDK's newer
      // default (CRC32 trailers on every upload); the parts carry their own sha256 and gzip's CRC anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  get bucket(): string { return this.s.bucket; }

  /** Whether the bucket is there and these credentials reach it. */
  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.s.bucket }));
  }

  private key(k: PartKey): string {
    return partObjectKey(this.s.prefix, k);
  }

  async put(key: PartKey, body: Readable, maxBytes: number): Promise<{ bytes: number; data: null }> {
    const cap = new ByteCap(maxBytes);
    body.on('error', (e) => cap.destroy(e));
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.s.bucket, Key: this.key(key), Body: body.pipe(cap), ContentType: 'application/gzip' },
      partSize: UPLOAD_PART_BYTES,
      queueSize: UPLOAD_QUEUE,
      // A failed upload aborts its multipart upload: no parts are left to pay for.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (e) {
      // The stream's own failure (too large, the host went away) says more than the SDK's wrapping of it.
      throw cap.errored ?? e;
    }
    return { bytes: cap.bytes, data: null };
  }

  async get(key: PartKey): Promise<Readable | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.s.bucket, Key: this.key(key) }));
      return r.Body as Readable;
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return undefined;
      throw e;
    }
  }

  async copy(from: PartKey, to: PartKey): Promise<void> {
    // Keys are made of plain names (ids, numbers): the copy source needs no escaping.
    await this.client.send(new CopyObjectCommand({ Bucket: this.s.bucket, Key: this.key(to), CopySource: `${this.s.bucket}/${this.key(from)}` }));
  }

  async delete(keys: PartKey[]): Promise<void> {
    await this.deleteKeys(keys.map((k) => this.key(k)));
  }

  async deletePrefix(accountId: string, sessionId?: string): Promise<void> {
    const Prefix = ownerPrefix(this.s.prefix, accountId, sessionId);
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.s.bucket, Prefix, ContinuationToken }));
      await this.deleteKeys((page.Contents ?? []).map((o) => o.Key!).filter(Boolean));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const r = await this.client.send(new DeleteObjectsCommand({ Bucket: this.s.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) throw new Error(`could not delete ${failed.length} checkpoint objects: ${failed[0].Key}: ${failed[0].Code} ${failed[0].Message ?? ''}`.trim());
    }
  }

  close(): void {
    this.client.destroy();
  }
}

export function openPartBlobs(s: SnapshotStoreSettings): PartBlobs {
  return s.kind === 's3' ? new S3Blobs(s) : new PostgresBlobs();
}
