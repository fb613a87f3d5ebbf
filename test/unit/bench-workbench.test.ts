import assert from 'node:assert/strict';
import { ALL_FIGURES, PORT_DIRECT_P50, PORT_PROXY_OVERHEAD, PORT_PROXY_P50, PTY_ECHO_P50, PTY_ECHO_P99 } from '../../bench/catalog.js';
import { failed, judge } from '../../bench/figures.js';
import type { LatencyRun } from '../../bench/load.js';
import { figuresOwed, phasesToRun, type Phase } from '../../bench/selection.js';
import type { LatencySummary } from '../../bench/stats.js';
import { ERASED, firstPrintable, proxyOverhead } from '../../bench/workbench-figures.js';

const summary = (p50: number, p99: number): LatencySummary => ({ n: 20, p50, p90: p99, p99, mean: p50, min: p50, max: p99 });
const run = (p50: number, p99: number, errors = 0): LatencyRun => ({ latency: summary(p50, p99), errors, errorMessages: [], load: [1, 2], samplesMs: [] });

describe('bench: workbench figures (port proxy, terminal echo)', () => {
  it('the proxy overhead is the proxy\'s p50 minus the direct p50, judged against 5 ms', () => {
    const m = proxyOverhead(run(6.5, 12, 1), run(1.5, 4));
    assert.ok(!failed(m));
    assert.equal(m.value, 5);
    assert.equal(m.errors, 1);
    assert.equal(m.details.p99DifferenceMs, 8);
    assert.equal(judge(PORT_PROXY_OVERHEAD, { ...m, errors: 0 }, new Map()).pass, true);
    assert.equal(judge(PORT_PROXY_OVERHEAD, { value: 5.1, errors: 0, details: {} }, new Map()).pass, false);
    // One failed request fails the figure: zero errors.
    assert.equal(judge(PORT_PROXY_OVERHEAD, m, new Map()).pass, false);
  });

  it('an overhead with either side unmeasured is an error naming that side, never a number', () => {
    assert.deepEqual(proxyOverhead({ error: 'boom' }, run(1, 2)), { error: 'through the proxy: boom' });
    assert.deepEqual(proxyOverhead(run(1, 2), { error: 'boom' }), { error: 'direct: boom' });
  });

  it('the echo p50 is judged against 15 ms; the p99 and both port p50s are reported', () => {
    assert.equal(judge(PTY_ECHO_P50, { value: 14.9, errors: 0, details: {} }, new Map()).pass, true);
    assert.equal(judge(PTY_ECHO_P50, { value: 15.1, errors: 0, details: {} }, new Map()).pass, false);
    for (const spec of [PTY_ECHO_P99, PORT_DIRECT_P50, PORT_PROXY_P50]) assert.equal(judge(spec, { value: 100, errors: 0, details: {} }, new Map()).pass, null);
  });

  it('BENCH_ONLY of the overhead runs the port phase, which records both p50s beside it', () => {
    const run = async () => undefined;
    const phases: (Phase & { name: string })[] = [
      { name: 'ports', figures: [PORT_DIRECT_P50, PORT_PROXY_P50, PORT_PROXY_OVERHEAD], run },
      { name: 'pty', figures: [PTY_ECHO_P50, PTY_ECHO_P99], run },
    ];
    const names = (only: string[]) => phasesToRun(phases, figuresOwed(only, ALL_FIGURES), only).map((p) => p.name);
    assert.deepEqual(names([PORT_PROXY_OVERHEAD.id]), ['ports']);
    assert.deepEqual(names([PTY_ECHO_P50.id]), ['pty']);
  });

  it('finds the echoed key past the terminal\'s escape sequences, and sees an erased character', () => {
    assert.equal(firstPrintable('a'), 'a');
    assert.equal(firstPrintable('\x1b[?2004h\x1b[Kb'), 'b');
    assert.equal(firstPrintable('\x1b]0;title\x07\r\nc'), 'c');
    assert.equal(firstPrintable('\b\x1b[K'), undefined);
    assert.match('\b\x1b[K', ERASED);
    assert.match('\b \b', ERASED);
    assert.doesNotMatch('b', ERASED);
  });
});
