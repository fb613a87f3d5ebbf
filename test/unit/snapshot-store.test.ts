import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { ownerPrefix, partObjectKey, PartTooLarge, PostgresBlobs } from '../../db/snapshot-blobs.js';
import { CheckpointTooLarge, DigestMismatch, IncompleteTar, InflateMeter, TarMeter } from '../../sandbox/checkpoint-stream.js';
import { ExecDemux } from '../../sandbox/docker-exec.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A tar's shape as TarMeter checks it: whole 512-byte blocks ending in two zero blocks. */
const tarLike = (content: Buffer) => Buffer.concat([content, Buffer.alloc((512 - (content.length % 512)) % 512), Buffer.alloc(1024)]);
/** Feeds `data` in chunks of `size`, as a socket would. */
const chunked = (data: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size)));

describe('snapshot store: object keys', () => {
  it('keys a part by prefix, account, session and number', () => {
    assert.equal(partObjectKey('prod/eu', { accountId: 'acc_1', sessionId: 'ses_2', seq: 7 }), 'prod/eu/acc_1/ses_2/7');
    assert.equal(partObjectKey('', { accountId: 'acc_1', sessionId: 'ses_2', seq: 0 }), 'acc_1/ses_2/0');
  });

  it('ends every owner prefix in a slash, so one session\'s prefix never covers another\'s', () => {
    assert.equal(ownerPrefix('p', 'acc_1', 'ses_1'), 'p/acc_1/ses_1/');
    assert.equal(ownerPrefix('', 'acc_1'), 'acc_1/');
    assert.ok(!partObjectKey('p', { accountId: 'acc_1', sessionId: 'ses_10', seq: 1 }).startsWith(ownerPrefix('p', 'acc_1', 'ses_1')));
    assert.ok(partObjectKey('p', { accountId: 'acc_1', sessionId: 'ses_1', seq: 1 }).startsWith(ownerPrefix('p', 'acc_1')));
  });
});

describe('snapshot store: PostgreSQL bytes', () => {
  it('keeps the bytes for the part\'s row, up to its cap', async () => {
    const blobs = new PostgresBlobs();
    const data = randomBytes(100_000);
    assert.deepEqual(await blobs.put({ accountId: 'a', sessionId: 's', seq: 1 }, chunked(data, 4096), data.length), { bytes: data.length, data });
    await assert.rejects(blobs.put({ accountId: 'a', sessionId: 's', seq: 2 }, chunked(data, 4096), data.length - 1), PartTooLarge);
  });
});

describe('checkpoint streams', () => {
  const tar = tarLike(randomBytes(300_000));

  it('TarMeter passes a tar through unchanged with its size and sha256', async () => {
    const meter = new TarMeter({ maxBytes: tar.length, wholeTar: true });
    const out = await buffer(chunked(tar, 7000).pipe(meter));
    assert.deepEqual(out, tar);
    assert.equal(meter.bytes, tar.length);
    assert.equal(meter.digest, sha(tar));
  });

  it('TarMeter fails past its cap, on a tar cut short, and on another digest', async () => {
    await assert.rejects(pipeline(chunked(tar, 7000), new TarMeter({ maxBytes: tar.length - 1, tooLarge: 'too big' }), new PassThroughSink()), (e: Error) => e instanceof CheckpointTooLarge && e.message === 'too big');
    await assert.rejects(pipeline(chunked(tar.subarray(0, tar.length - 512), 7000), new TarMeter({ maxBytes: tar.length, wholeTar: true }), new PassThroughSink()), IncompleteTar);
    await assert.rejects(pipeline(chunked(tar, 7000), new TarMeter({ maxBytes: tar.length, expectDigest: sha(Buffer.from('other')) }), new PassThroughSink()), DigestMismatch);
  });

  it('InflateMeter passes gzip through unchanged and measures the tar inside it', async () => {
    const gz = gzipSync(tar);
    const meter = new InflateMeter(tar.length);
    const out = await buffer(chunked(gz, 5000).pipe(meter));
    assert.deepEqual(out, gz);
    assert.equal(meter.rawBytes, tar.length);
    assert.equal(meter.digest, sha(tar));
  });

  it('InflateMeter refuses a gzip bomb at its bound, and bytes that are not gzip', async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024));
    await assert.rejects(pipeline(chunked(bomb, 5000), new InflateMeter(1024 * 1024), new PassThroughSink()), CheckpointTooLarge);
    await assert.rejects(pipeline(chunked(Buffer.from('not gzip at all'), 5), new InflateMeter(1024), new PassThroughSink()), (e: { code?: string }) => /^Z_/.test(e.code ?? ''));
    await assert.rejects(pipeline(Readable.from([]), new InflateMeter(1024), new PassThroughSink()), (e: { code?: string }) => /^Z_/.test(e.code ?? ''));
  });

  it('ExecDemux splits Docker\'s frames however they are cut: stdout passes, stderr is kept up to its cap', async () => {
    const frame = (type: number, payload: Buffer) => {
      const h = Buffer.alloc(8);
      h[0] = type;
      h.writeUInt32BE(payload.length, 4);
      return Buffer.concat([h, payload]);
    };
    const out1 = randomBytes(70_000);
    const out2 = randomBytes(10);
    const wire = Buffer.concat([frame(1, out1), frame(2, Buffer.from('warning: one\n')), frame(1, Buffer.alloc(0)), frame(1, out2), frame(2, Buffer.from('warning: two\n'))]);
    for (const size of [1, 3, 8, 9, 4096, wire.length]) {
      const demux = new ExecDemux(20);
      assert.deepEqual(await buffer(chunked(wire, size).pipe(demux)), Buffer.concat([out1, out2]), `chunks of ${size}`);
      assert.equal(demux.stderr.toString(), 'warning: one\nwarning');
    }
  });
});

/** A sink that drops what it is given. */
class PassThroughSink extends (await import('node:stream')).Writable {
  override _write(_c: Buffer, _e: BufferEncoding, done: () => void): void { done(); }
}
