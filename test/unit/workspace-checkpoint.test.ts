import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { compress, decompress, digestOf } from '../../sandbox/workspace-checkpoint.js';

describe('workspace checkpoints: compression and digest', () => {
  // Any bytes stand for the tar here: the digest and compression do not read it as a tar.
  const tar = Buffer.concat([Buffer.alloc(4096, 'a'), randomBytes(4096), Buffer.alloc(1024)]);

  it('gives the same digest for the same bytes and another for one changed byte', () => {
    assert.equal(digestOf(tar), digestOf(Buffer.from(tar)));
    const changed = Buffer.from(tar);
    changed[10] ^= 1;
    assert.notEqual(digestOf(changed), digestOf(tar));
    assert.match(digestOf(tar), /^[0-9a-f]{64}$/);
  });

  it('round-trips through gzip, checked against the digest it was stored under', async () => {
    const stored = await compress(tar);
    assert.ok(stored.length < tar.length, 'the repeated parts compress');
    assert.deepEqual(await decompress(stored, digestOf(tar)), tar);
  });

  it('refuses a checkpoint whose bytes do not match its digest', async () => {
    const other = await compress(Buffer.alloc(2048, 'b'));
    await assert.rejects(decompress(other, digestOf(tar)), /does not match its digest/);
  });

  it('refuses bytes that are not gzip', async () => {
    await assert.rejects(decompress(Buffer.from('not gzip at all'), digestOf(tar)));
  });
});
