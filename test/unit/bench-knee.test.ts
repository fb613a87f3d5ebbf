import assert from 'node:assert/strict';
import { findKnee } from '../../bench/knee.js';

describe('bench: where throughput stops growing with clients', () => {
  it('is the client count before the first step that adds < 10% throughput while p50 grows', () => {
    const k = findKnee([
      { clients: 1, perSec: 10, p50Ms: 90 },
      { clients: 4, perSec: 30, p50Ms: 120 },
      { clients: 16, perSec: 32, p50Ms: 480 },
      { clients: 64, perSec: 33, p50Ms: 1900 },
    ]);
    assert.equal(k.clients, 4);
    assert.match(k.text, /knee is at 4 clients: from 4 to 16 throughput grows 7% \(30 → 32 runs\/s\) while p50 grows 4\.0×/);
  });

  it('says so when throughput falls', () => {
    const k = findKnee([{ clients: 16, perSec: 27, p50Ms: 570 }, { clients: 64, perSec: 16, p50Ms: 2800 }]);
    assert.equal(k.clients, 16);
    assert.match(k.text, /throughput falls 41%/);
  });

  it('finds none while each step still pays, or when p50 does not grow', () => {
    assert.equal(findKnee([{ clients: 1, perSec: 10, p50Ms: 90 }, { clients: 4, perSec: 35, p50Ms: 100 }]).clients, undefined);
    const flatButFaster = findKnee([{ clients: 1, perSec: 10, p50Ms: 90 }, { clients: 4, perSec: 10.5, p50Ms: 80 }]);
    assert.equal(flatButFaster.clients, undefined);
    assert.match(flatButFaster.text, /no knee up to 4 clients/);
  });

  it('takes the points in client order, and needs two of them', () => {
    assert.equal(findKnee([{ clients: 16, perSec: 32, p50Ms: 480 }, { clients: 4, perSec: 30, p50Ms: 120 }]).clients, 4);
    assert.match(findKnee([{ clients: 16, perSec: 32, p50Ms: 480 }]).text, /fewer than two/);
  });
});
