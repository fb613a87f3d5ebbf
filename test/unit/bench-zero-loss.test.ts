import assert from 'node:assert/strict';
import { ALL_FIGURES, APPEND_10K_OVERHEAD, APPEND_OFF_P50, APPEND_ZERO_P50 } from '../../bench/catalog.js';
import { activitiesByType, DURABILITY_VARIANTS, overheadMeasurement, ZERO_LOSS_FIGURES } from '../../bench/durability-figures.js';
import { failed, judge } from '../../bench/figures.js';
import type { LatencyRun } from '../../bench/load.js';
import { renderTables, zeroLossTable } from '../../bench/report-tables.js';
import type { LatencySummary } from '../../bench/stats.js';
import { loadConfig } from '../../config/index.js';

const summary = (p50: number, p99: number): LatencySummary => ({ n: 20, p50, p90: p99, p99, mean: p50, min: p50, max: p99 });
const run = (p50: number, p99: number, errors = 0): LatencyRun => ({ latency: summary(p50, p99), errors, errorMessages: [], load: [0, 0], samplesMs: [] });

describe('bench: zero loss of acknowledged work', () => {
  it('the overhead is zero\'s p50 minus interval\'s, judged against spec §10\'s 20 ms', () => {
    const m = overheadMeasurement(run(60, 90, 1), run(45, 70));
    assert.ok(!failed(m));
    assert.equal(m.value, 15);
    assert.equal(m.errors, 1);
    assert.equal(m.details.p99OverheadMs, 20);
    assert.equal(judge(APPEND_10K_OVERHEAD, { ...m, errors: 0 }, new Map()).pass, true);
    assert.equal(judge(APPEND_10K_OVERHEAD, { value: 21, errors: 0, details: {} }, new Map()).pass, false);
  });

  it('an overhead with either side unmeasured is an error naming that side, never a number', () => {
    assert.deepEqual(overheadMeasurement({ error: 'boom' }, run(45, 70)), { error: 'durability zero: boom' });
    assert.deepEqual(overheadMeasurement(run(45, 70), { error: 'boom' }), { error: 'durability interval: boom' });
  });

  it('zero\'s p50 is judged against checkpoints off, within 1.15 times', () => {
    const off = judge(APPEND_OFF_P50, { value: 40, errors: 0, details: {} }, new Map());
    const byId = new Map([[off.id, off]]);
    assert.equal(judge(APPEND_ZERO_P50, { value: 46, errors: 0, details: {} }, byId).pass, true);
    assert.equal(judge(APPEND_ZERO_P50, { value: 47, errors: 0, details: {} }, byId).pass, false);
  });

  it('every figure of the phase is in the catalog, and each variant\'s settings are ones an API accepts', () => {
    for (const f of ZERO_LOSS_FIGURES) assert.ok(ALL_FIGURES.includes(f), f.id);
    assert.deepEqual(DURABILITY_VARIANTS.map((v) => v.key), ['off', 'interval', 'zero']);
    for (const v of DURABILITY_VARIANTS) assert.doesNotThrow(() => loadConfig({ DURABOX_HASH_KEY: 'k'.repeat(32), ...v.env }), v.key);
  });

  it('the report says the overhead over interval and over off for each workspace', () => {
    const lines = zeroLossTable([
      { workspace: 'small (one file)', runs: { off: summary(40, 50), interval: summary(42, 60), zero: summary(47.5, 70) } },
      { workspace: '10,000 files', runs: { off: summary(41, 50), interval: { error: 'opening the session: no worker' }, zero: summary(55, 80) } },
    ]);
    const text = lines.join('\n');
    assert.match(text, /\| small \(one file\) \| 40 ms \/ 50 ms \| 42 ms \/ 60 ms \| 47.5 ms \/ 70 ms \| \+5.50 ms \| \+7.50 ms \|/);
    assert.match(text, /\| 10,000 files \| 41 ms \/ 50 ms \| \*\*ERROR\*\* opening the session: no worker \| 55 ms \/ 80 ms \| — \| \+14 ms \|/);
    assert.match(text, /\*\*Overhead of zero loss\*\* \(durability zero minus interval, p50\): small \(one file\) \+5.50 ms \(p99 \+10 ms\); 10,000 files — \(p99 —\)\. Over checkpoints off: small \(one file\) \+7.50 ms \(p99 \+20 ms\); 10,000 files \+14 ms \(p99 \+30 ms\)\./);
    assert.match(zeroLossTable(undefined).join('\n'), /Not measured/);
  });

  it('counts the activities a session\'s history scheduled, by type, and shows them per setting', () => {
    const scheduled = (name: string) => ({ activityTaskScheduledEventAttributes: { activityType: { name } } });
    const byType = activitiesByType([scheduled('sessionExec'), {}, scheduled('checkpointSession'), scheduled('sessionExec'), { activityTaskScheduledEventAttributes: null }]);
    assert.deepEqual(byType, { sessionExec: 2, checkpointSession: 1 });
    const text = zeroLossTable([{
      workspace: 'small (one file)',
      runs: { off: summary(40, 50), interval: summary(42, 60), zero: summary(45, 70) },
      activities: { off: { commands: 2, byType: { sessionExec: 2 } }, interval: { commands: 2, byType }, zero: { error: 'history gone' } },
    }]).join('\n');
    assert.match(text, /\| small \(one file\) \| checkpoints off \| 2 \| sessionExec 2 \|/);
    assert.match(text, /\| small \(one file\) \| durability interval \| 2 \| checkpointSession 1, sessionExec 2 \|/);
    assert.match(text, /\| small \(one file\) \| durability zero \| \*\*ERROR\*\* history gone \|  \|/);
  });

  it('a run of a few figures leaves out the tables it did not measure; a full run says why each is missing', () => {
    const zeroLoss = [{ workspace: 'small (one file)', runs: { off: summary(40, 50), interval: summary(42, 60), zero: summary(45, 70) } }];
    const only = renderTables({ zeroLoss }, { clients: 16, throughputSec: 60, only: [APPEND_ZERO_P50.id] }).join('\n');
    assert.match(only, /^## Zero loss of acknowledged work/);
    assert.doesNotMatch(only, /Cost by part|Scaling|pythonExec spends/);
    const full = renderTables({}, { clients: 16, throughputSec: 60 }).join('\n');
    for (const heading of ['pythonExec spends', 'Cost by part', 'Scaling', 'Zero loss']) assert.match(full, new RegExp(heading));
    assert.match(full, /Not measured: the run stopped before the zero-loss phase/);
  });
});
