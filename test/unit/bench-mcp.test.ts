import assert from 'node:assert/strict';
import { POLL_INTERVAL_MS } from '../../api/mcp-tasks.js';
import { ALL_FIGURES, COLD_P50, MCP_2026_P50, MCP_P50, MCP_REST_P50, MCP_TASK_P50, PYTHON_P50 } from '../../bench/catalog.js';
import { comparisonText, describeTarget, judge, type Figure } from '../../bench/figures.js';
import { checkPrintOne, summarizeTasks } from '../../bench/mcp-figures.js';
import { figuresOwed, phasesToRun, type Phase } from '../../bench/selection.js';
import { readBenchSettings } from '../../bench/settings.js';

const measured = (value: number, errors = 0) => ({ value, errors, details: {} });
const baselines = (entries: [string, number][]) => new Map(entries.map(([id, value]): [string, Figure] => [id, { id, title: id, unit: 'ms', value, target: 'reported', pass: null, details: {} }]));

describe('bench: MCP figures', () => {
  it('a task is judged against the plain MCP call plus two poll intervals, and the table shows the amount over it', () => {
    assert.equal(MCP_TASK_P50.target.kind === 'offset' && MCP_TASK_P50.target.offset, 2 * POLL_INTERVAL_MS);
    assert.equal(describeTarget(MCP_TASK_P50.target), `<= mcp pythonExec p50 + ${2 * POLL_INTERVAL_MS}`);
    const plain = baselines([[MCP_P50.id, 80]]);
    const within = judge(MCP_TASK_P50, measured(80 + 2 * POLL_INTERVAL_MS), plain);
    assert.equal(within.pass, true);
    assert.equal(within.difference, 2 * POLL_INTERVAL_MS);
    assert.deepEqual(within.baseline, { id: MCP_P50.id, value: 80, offset: 2 * POLL_INTERVAL_MS });
    assert.equal(within.ratio, undefined, 'no ratio: the target adds, it does not multiply');
    assert.equal(comparisonText(judge(MCP_TASK_P50, measured(1100), plain)), '+1020 ms');
    assert.equal(judge(MCP_TASK_P50, measured(80 + 2 * POLL_INTERVAL_MS + 0.5), plain).pass, false);
    // One failed call fails it (zero errors), and a missing plain figure is an error, never a pass.
    assert.equal(judge(MCP_TASK_P50, measured(1100, 1), plain).pass, false);
    const orphan = judge(MCP_TASK_P50, measured(1100), new Map());
    assert.equal(orphan.pass, false);
    assert.match(orphan.error!, /baseline mcp pythonExec p50 unavailable/);
  });

  it('the plain calls are reported, read against REST\'s pythonExec timed beside them: a ratio, never a verdict', () => {
    const rest = baselines([[MCP_REST_P50.id, 60]]);
    for (const spec of [MCP_P50, MCP_2026_P50]) {
      const f = judge(spec, measured(75), rest);
      assert.equal(f.pass, null);
      assert.equal(f.ratio, 1.25);
      assert.equal(comparisonText(f), '1.250');
      assert.deepEqual(f.baseline, { id: MCP_REST_P50.id, value: 60 });
      // Without the baseline the figure still stands, with no ratio.
      const alone = judge(spec, measured(75), new Map());
      assert.equal(alone.pass, null);
      assert.equal(alone.ratio, undefined);
      assert.equal(alone.error, undefined);
    }
    assert.equal(judge(MCP_REST_P50, measured(60), new Map()).pass, null);
  });

  it('BENCH_ONLY=\'mcp*\' owes the three MCP figures and their REST baseline, and runs only the MCP phase', () => {
    const only = readBenchSettings({ BENCH_ONLY: 'mcp*' }).only;
    assert.deepEqual(only, [MCP_P50.id, MCP_TASK_P50.id, MCP_2026_P50.id]);
    const owed = figuresOwed(only, ALL_FIGURES);
    assert.deepEqual(owed.map((f) => f.id), [MCP_REST_P50.id, MCP_P50.id, MCP_TASK_P50.id, MCP_2026_P50.id]);
    // The task alone brings the plain call it is judged against, and the REST figure that one is read against.
    assert.deepEqual(figuresOwed([MCP_TASK_P50.id], ALL_FIGURES).map((f) => f.id), [MCP_REST_P50.id, MCP_P50.id, MCP_TASK_P50.id]);
    const run = async () => undefined;
    const phases: (Phase & { name: string })[] = [
      { name: 'cold', figures: [COLD_P50], run },
      { name: 'python', figures: [PYTHON_P50], run },
      { name: 'mcp', figures: [MCP_REST_P50, MCP_P50, MCP_TASK_P50, MCP_2026_P50], run },
    ];
    assert.deepEqual(phasesToRun(phases, owed, only).map((p) => p.name), ['mcp']);
  });

  it('summarizes the tasks\' creation, polls and result times', () => {
    const t = summarizeTasks([
      { createdMs: 20, polls: 2, resultMs: 1080 },
      { createdMs: 30, polls: 2, resultMs: 1100 },
      { createdMs: 25, polls: 3, resultMs: 2090 },
    ])!;
    assert.equal(t.n, 3);
    assert.equal(t.createdMs.p50, 25);
    assert.equal(t.resultMs.p50, 1100);
    assert.deepEqual(t.polls, { 2: 2, 3: 1 });
    assert.equal(t.pollIntervalMs, POLL_INTERVAL_MS);
    assert.equal(summarizeTasks([]), undefined);
  });

  it('a call counts only when it printed 1; an error result or another output throws, naming it', () => {
    const ok = { content: [{ type: 'text', text: '1\n' }], structuredContent: { output: '1\n', stderr: '', exit_code: 0 } };
    assert.doesNotThrow(() => checkPrintOne(ok, 'x'));
    assert.throws(() => checkPrintOne({ isError: true, content: [{ type: 'text', text: 'timeout: too slow' }] }, 'the task'), /the task answered an error: timeout: too slow/);
    assert.throws(() => checkPrintOne({ structuredContent: { output: '2\n' } }, 'tools/call'), /tools\/call printed "2\\n", expected "1\\n"/);
    assert.throws(() => checkPrintOne(undefined, 'tools/call'), /printed undefined/);
  });
});
