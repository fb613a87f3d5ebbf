import assert from 'node:assert/strict';
import { eventKind, eventTimeMs, PARTS, splitRun, summarizeParts, type HistoryEventTime } from '../../bench/latency-parts.js';

const KINDS = [
  'workflowExecutionStarted',
  'workflowTaskScheduled', 'workflowTaskStarted', 'workflowTaskCompleted',
  'activityTaskScheduled', 'activityTaskStarted', 'activityTaskCompleted',
  'workflowTaskScheduled', 'workflowTaskStarted', 'workflowTaskCompleted',
  'workflowExecutionCompleted',
];

/** A one-activity history whose events are stamped at `times` (ms). */
const history = (times: number[]): HistoryEventTime[] => KINDS.map((kind, i) => ({ kind, atMs: times[i] }));

describe('bench: latency by part from a workflow history', () => {
  it('splits a run into parts that add up to the whole, each between the right events', () => {
    const run = { workflowId: 'w', sentMs: 1000, answeredMs: 1060 };
    //                   start  wft sched/start/done  act sched/start/done  wft sched/start/done  closed
    const parts = splitRun(run, history([1005, 1005, 1005, 1015, 1015, 1018, 1040, 1040, 1042, 1048, 1048]))!;
    assert.deepEqual(parts, [5, 10, 3, 22, 8, 12]);
    assert.equal(parts.reduce((a, b) => a + b, 0), run.answeredMs - run.sentMs);
    assert.equal(parts.length, PARTS.length);
  });

  it('leaves out a history of another shape (a retried activity) and says how many', () => {
    const ok = { workflowId: 'a', sentMs: 0, answeredMs: 50 };
    const retried = { workflowId: 'b', sentMs: 0, answeredMs: 500 };
    const plain = history([1, 1, 1, 5, 5, 6, 30, 30, 31, 40, 40]);
    const longer = [...plain.slice(0, 7), { kind: 'activityTaskFailed', atMs: 100 }, ...plain.slice(7)];
    assert.equal(splitRun(retried, longer), undefined);
    const s = summarizeParts([ok, retried], [splitRun(ok, plain), splitRun(retried, longer)]);
    assert.equal(s.runs, 1);
    assert.equal(s.skipped, 1);
    assert.equal(s.totalP50Ms, 50);
    assert.deepEqual(s.p50Ms.map((p) => p.ms), [1, 4, 1, 24, 10, 10]);
  });

  it('fails loudly when no history could be split', () => {
    assert.throws(() => summarizeParts([{ workflowId: 'a', sentMs: 0, answeredMs: 1 }], [undefined]), /no history of the plain one-activity shape/);
  });

  it('reads event kinds and times as the SDK gives them', () => {
    assert.equal(eventKind({ eventId: 1, activityTaskStartedEventAttributes: { attempt: 1 } }), 'activityTaskStarted');
    assert.equal(eventKind({ eventId: 1 }), 'unknown');
    assert.equal(eventTimeMs({ seconds: 2, nanos: 5_500_000 }), 2005.5);
  });
});
