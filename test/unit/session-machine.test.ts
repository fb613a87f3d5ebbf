// The session as a state machine (workflows/session-machine.ts), without Temporal: its phases and where
// they go, the idle loop's plan, what a failed step does, how a stored part or a move changes the session,
// what a restored call says about the interpreter contexts, and which keyed answers go on to the next run.
import assert from 'node:assert/strict';
import type { SessionState } from '../../contract/messages.js';
import {
  afterMove, afterStep, afterStored, compactionDue, dueAction, failureAction, hostVerdict, idlePlan, keepAnswer, keptAnswer, KEPT_ANSWER_BYTES, KEPT_ANSWERS,
  nextGeneration, phaseOf, restoredFields, statusOf, TRANSITIONS, utf8Bytes, type FailureView, type Phase,
} from '../../workflows/session-machine.js';

const base: SessionState = { hostQueue: 'q-a', hostId: 'a', containerId: 'c1', createdAtMs: 0, leaseExpiresAtMs: 100_000, commands: 3, generation: 1 };

describe('session phases', () => {
  const flags = (over: Partial<Parameters<typeof phaseOf>[0]> = {}) => ({ state: base, ended: false, closing: false, busy: false, moving: false, ...over });

  it('are read from the workflow\'s flags, the most specific first, and shown as the API\'s statuses', () => {
    assert.equal(phaseOf(flags({ state: undefined })), 'starting');
    assert.equal(phaseOf(flags()), 'active');
    assert.equal(phaseOf(flags({ busy: true, moving: true })), 'busy', 'a step that moves the session shows as busy');
    assert.equal(phaseOf(flags({ moving: true })), 'moving');
    assert.equal(phaseOf(flags({ state: { ...base, homeless: true } })), 'homeless');
    assert.equal(phaseOf(flags({ state: { ...base, paused: true } })), 'paused');
    assert.equal(phaseOf(flags({ closing: true })), 'closing');
    assert.equal(phaseOf(flags({ ended: true, busy: true })), 'ended');
    assert.deepEqual((['starting', 'active', 'busy', 'moving', 'homeless', 'paused', 'closing', 'ended'] as Phase[]).map(statusOf),
      ['starting', 'active', 'busy', 'active', 'active', 'paused', 'active', 'ended']);
  });

  it('go only where the table says: every phase can end, nothing leaves ended, a paused or homeless session moves before it runs', () => {
    for (const [from, to] of Object.entries(TRANSITIONS) as Array<[Phase, readonly Phase[]]>) {
      if (from !== 'ended') assert.ok(to.includes('ended') || to.includes('closing'), `${from} can end`);
      assert.ok(!to.includes(from), `${from} does not list itself`);
    }
    assert.deepEqual(TRANSITIONS.ended, []);
    assert.ok(TRANSITIONS.paused.includes('moving') && TRANSITIONS.homeless.includes('moving'));
    assert.ok(!TRANSITIONS.homeless.includes('active'), 'a homeless session never goes back to the container it left');
  });
});

describe('the idle loop', () => {
  const view = (over: Partial<Parameters<typeof idlePlan>[0]> = {}) => ({
    nowMs: 10_000, createdAtMs: 0, deadlineMs: 1_000_000, state: { ...base, lastUsedMs: 9_000 }, checkpointMs: 1_000, pauseAfterMs: 5_000, chains: true, lastCheckpointTryMs: 8_000, ...over,
  });

  it('ends at the lease or the lifetime, whichever comes first', () => {
    assert.equal(idlePlan(view({ nowMs: 100_000 })).expired, true);
    assert.equal(idlePlan(view({ deadlineMs: 10_000 })).expired, true);
    assert.equal(idlePlan(view()).expired, false);
  });

  it('checkpoints a dirty workspace a period after the last try, pauses when idle, compacts a long chain, wakes at the first', () => {
    const dirty = idlePlan(view({ state: { ...base, lastUsedMs: 9_000, dirty: true } }));
    assert.deepEqual([dirty.checkpointAt, dirty.pauseAt, dirty.compactAt, dirty.wakeAt], [9_000, 14_000, Infinity, 9_000]);
    const long = idlePlan(view({ state: { ...base, lastUsedMs: 9_000, checkpoint: { digest: 'd', raw_bytes: 1, bytes: 40, atMs: 1, deltas: 40, deltaBytes: 40 } } }));
    assert.deepEqual([long.checkpointAt, long.compactAt], [Infinity, 10_000]);
    const paused = idlePlan(view({ state: { ...base, paused: true, dirty: true } }));
    assert.deepEqual([paused.checkpointAt, paused.pauseAt, paused.wakeAt], [Infinity, Infinity, 100_000]);
    assert.equal(idlePlan(view({ chains: false, state: { ...base, checkpoint: { digest: 'd', raw_bytes: 1, bytes: 40, atMs: 1, deltas: 40 } } })).compactAt, Infinity);
  });

  it('does the first action due, pause before checkpoint before compaction, and nothing while a step runs', () => {
    const plan = { expired: false, checkpointAt: 5, pauseAt: 10, compactAt: 3, wakeAt: 3 };
    assert.equal(dueAction(plan, 4, true), 'compact');
    assert.equal(dueAction(plan, 6, true), 'checkpoint');
    assert.equal(dueAction(plan, 10, true), 'pause');
    assert.equal(dueAction(plan, 10, false), 'none');
    assert.equal(dueAction(plan, 2, true), 'none');
  });
});

describe('a step that failed on its host', () => {
  const v = (over: Partial<FailureView>): FailureView => ({ failure: 'not_picked_up', chains: true, sameHost: true, restorable: true, moves: 0, endingOrEnded: false, ...over });

  it('asks when a chain session\'s host last reported before it moves anything', () => {
    assert.equal(failureAction(v({})), 'ask_host');
    assert.equal(failureAction(v({ failure: 'lost_mid_step' })), 'ask_host');
    assert.equal(failureAction(v({ sameHost: false })), 'move_then_run', 'another step moved it meanwhile: no question');
  });

  it('waits for a host expected back: a step that never began is sent again; one lost mid-step fails, the session stays', () => {
    assert.equal(failureAction(v({ verdict: 'wait' })), 'resend');
    assert.equal(failureAction(v({ failure: 'lost_mid_step', verdict: 'wait' })), 'fail_keep');
  });

  it('moves from a gone host, once per step; without a checkpoint the session is lost', () => {
    assert.equal(failureAction(v({ verdict: 'gone' })), 'move_then_run');
    assert.equal(failureAction(v({ failure: 'lost_mid_step', verdict: 'gone' })), 'move_then_fail');
    assert.equal(failureAction(v({ verdict: 'gone', moves: 1 })), 'lost');
    assert.equal(failureAction(v({ verdict: 'gone', restorable: false })), 'lost');
    assert.equal(failureAction(v({ chains: false })), 'move_then_run', 'sessions from before chains move at once, as they did');
  });

  it('restores a gone container unless the session ends; leaves a fenced one; answers anything else as it is', () => {
    assert.equal(failureAction(v({ failure: 'container_gone' })), 'move_then_run');
    assert.equal(failureAction(v({ failure: 'container_gone', endingOrEnded: true })), 'lost');
    assert.equal(failureAction(v({ failure: 'fenced' })), 'leave_container');
    assert.equal(failureAction(v({ failure: 'other' })), 'rethrow');
  });
});

describe('how steps and moves change the session', () => {
  it('a stored effect leaves nothing to checkpoint; no record, a failure or an oversized workspace makes one due', () => {
    const saved = afterStep({ ...base, dirty: true }, { outcome: 'saved', kind: 'delta', digest: 'd', raw_bytes: 10, bytes: 5 }, 7);
    assert.deepEqual([saved.dirty, saved.checkpoint?.deltas, saved.checkpoint?.atMs], [false, 1, 7]);
    assert.equal(afterStep({ ...base, dirty: true }, { outcome: 'unchanged' }, 7).dirty, false);
    assert.equal(afterStep(base, undefined, 7).dirty, true);
    assert.equal(afterStep(base, { outcome: 'failed', message: 'x' }, 7).dirty, true);
    const big = afterStep(base, { outcome: 'too_large' }, 7);
    assert.deepEqual([big.dirty, big.checkpointStale], [true, true]);
  });

  it('a move takes the new host and generation, restarts the contexts\' processes, and forgets the old grant and homelessness', () => {
    const before: SessionState = { ...base, paused: true, homeless: true, storeGrant: { grant: 'g', expiresAtMs: 1 }, contexts: { 'default-python': { language: 'python', createdAtMs: 1 } } };
    const after = afterMove(before, { hostQueue: 'q-b', hostId: 'b', containerId: 'c2', generation: 2 }, 50);
    assert.deepEqual([after.hostId, after.containerId, after.generation, after.claimed, after.paused, after.lastUsedMs], ['b', 'c2', 2, 2, false, 50]);
    assert.equal(after.storeGrant, undefined);
    assert.equal(after.homeless, undefined);
    assert.equal(after.contexts!['default-python'].restarted, true);
    assert.equal(before.contexts!['default-python'].restarted, undefined, 'the state before is left as it was');
    assert.equal(nextGeneration(after), 3);
    assert.equal(nextGeneration({ generation: 2, claimed: 5 }), 6, 'past any generation handed out, even by a move that failed');
    assert.equal(nextGeneration(undefined), 1);
  });
});

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

describe('keyed answers carried to the next run', () => {
  const answer = (key: string, stdout: string) => keptAnswer(key, 'exec', { result: { stdout } });

  it('measure an answer as its JSON in UTF-8', () => {
    assert.equal(utf8Bytes('aé€😀'), 1 + 2 + 3 + 4);
    assert.equal(answer('k', 'é').bytes, Buffer.byteLength(JSON.stringify({ result: { stdout: 'é' } })));
    const failed = keptAnswer('k', 'exec', { failure: { type: 'timeout', message: 'm', details: [{ stdout: 'x' }] } });
    assert.equal(failed.bytes, Buffer.byteLength(JSON.stringify(failed.answer)));
  });

  it('keep the latest KEPT_ANSWERS keys; a key answered again is kept once, as the newest', () => {
    let kept = [answer('dup', 'old')];
    for (let i = 0; i < KEPT_ANSWERS + 10; i++) kept = keepAnswer(kept, answer(`k${i}`, `${i}`));
    assert.equal(kept.length, KEPT_ANSWERS);
    assert.equal(kept[0].key, 'k10', 'the oldest keys go first');
    assert.equal(kept.at(-1)!.key, `k${KEPT_ANSWERS + 9}`);
    kept = keepAnswer(kept, answer('k20', 'again'));
    assert.equal(kept.filter((k) => k.key === 'k20').length, 1);
    assert.deepEqual(kept.at(-1)!.answer, { result: { stdout: 'again' } });
  });

  it('carry the newest answers whole within KEPT_ANSWER_BYTES; older or larger ones keep only their key', () => {
    // Each of these answers is 64 bytes of JSON: one fits 100 bytes, two do not.
    const limits = { count: 10, bytes: 100 };
    let kept = keepAnswer([], answer('a', 'x'.repeat(40)), limits);
    assert.equal(kept[0].bytes, 64);
    assert.ok(kept[0].answer);
    kept = keepAnswer(kept, answer('b', 'y'.repeat(40)), limits);
    assert.deepEqual(kept.map((k) => [k.key, k.answer !== undefined, k.bytes]), [['a', false, 64], ['b', true, 64]]);
    // One larger than the whole budget keeps only its key, and leaves the room to the smaller ones before it.
    kept = keepAnswer(kept, answer('c', 'z'.repeat(200)), limits);
    assert.deepEqual(kept.map((k) => [k.key, k.answer !== undefined]), [['a', false], ['b', true], ['c', false]]);
    // The default: half of Temporal's 512 KB payload warning, so the next run's input stays well under its 2 MB limit.
    assert.equal(KEPT_ANSWER_BYTES, 256 * 1024);
    const big = keepAnswer([], answer('big', 'x'.repeat(KEPT_ANSWER_BYTES)));
    assert.equal(big[0].answer, undefined);
    assert.ok(big[0].bytes > KEPT_ANSWER_BYTES);
  });
});
