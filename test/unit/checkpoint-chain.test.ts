// The pure rules of checkpoint chains and host loss that the session workflow follows (workflows/session.ts):
// when a chain is compacted, how a stored part changes the session's record, when a silent host is gone,
// and what a restored call says about the interpreter contexts.
import assert from 'node:assert/strict';
import { afterStored, compactionDue, hostVerdict, restoredFields } from '../../workflows/session.js';

describe('checkpoint chains', () => {
  const delta = (bytes: number) => ({ outcome: 'saved' as const, kind: 'delta' as const, digest: 'd', raw_bytes: bytes * 10, bytes });

  it('a delta lengthens the chain; a full part starts it again', () => {
    const first = afterStored(undefined, delta(100), 1);
    assert.deepEqual(first, { digest: 'd', raw_bytes: 1000, bytes: 100, atMs: 1, deltas: 1, deltaBytes: 100 });
    const second = afterStored(first, delta(50), 2);
    assert.deepEqual(second, { digest: 'd', raw_bytes: 1500, bytes: 150, atMs: 2, deltas: 2, deltaBytes: 150 });
    const full = afterStored(second, { outcome: 'saved', kind: 'full', digest: 'f', raw_bytes: 4000, bytes: 400 }, 3);
    assert.deepEqual(full, { digest: 'f', raw_bytes: 4000, bytes: 400, atMs: 3 });
  });

  it('is compacted past 32 deltas, or when its deltas outweigh its base (above 1 MiB), never without deltas', () => {
    assert.equal(compactionDue(undefined), false);
    assert.equal(compactionDue({ bytes: 10, deltas: 0 }), false);
    assert.equal(compactionDue({ bytes: 3200, deltas: 31, deltaBytes: 3100 }), false);
    assert.equal(compactionDue({ bytes: 3300, deltas: 32, deltaBytes: 3200 }), true);
    const mib = 1024 * 1024;
    assert.equal(compactionDue({ bytes: 10 * mib, deltas: 3, deltaBytes: 2 * mib }), false, 'small deltas on a large base');
    assert.equal(compactionDue({ bytes: 5 * mib, deltas: 3, deltaBytes: 3 * mib }), true, 'deltas larger than the base');
    assert.equal(compactionDue({ bytes: 100_000, deltas: 3, deltaBytes: 90_000 }), false, 'under the floor');
  });
});

describe('host loss', () => {
  it('waits for a host that reported within hostGoneMs, a bounded number of times; a silent or unknown one is gone', () => {
    assert.equal(hostVerdict(1_000, 30_000, 0, 10), 'wait');
    assert.equal(hostVerdict(29_999, 30_000, 9, 10), 'wait');
    assert.equal(hostVerdict(30_000, 30_000, 0, 10), 'gone');
    assert.equal(hostVerdict(null, 30_000, 0, 10), 'gone');
    assert.equal(hostVerdict(1_000, 30_000, 10, 10), 'gone', 'a host that reports but never polls is not waited for forever');
  });
});

describe('restored calls', () => {
  it('say every answered step is there (zero loss), and which python contexts come back with which variables', () => {
    const r = restoredFields('host_lost', 5, undefined, { zeroLoss: true, contexts: { 'default-python': { saved: ['df', 'f'], unsaved: ['gen'] } } });
    assert.equal(r.restored, true);
    assert.match(r.restored_note!, /host was lost; .*every step that was answered; running processes were not kept; python contexts come back with their saved variables at their next cell: default-python: df, f \(not saved: gen\)/);
    const none = restoredFields('paused', 5, undefined, { zeroLoss: true });
    assert.match(none.restored_note!, /paused .*\/workspace is as it was.*interpreter variables were not kept/);
    const interval = restoredFields('container_gone', 0, undefined, { zeroLoss: false });
    assert.match(interval.restored_note!, /container was gone.*\/workspace is as of 1970-01-01T00:00:00.000Z/);
    assert.deepEqual(restoredFields(undefined, 5), {});
  });
});
