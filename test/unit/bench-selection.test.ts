import assert from 'node:assert/strict';
import { ALL_FIGURES, APPEND_10K_OVERHEAD, APPEND_OFF_P50, APPEND_ZERO_P50, COLD_P50, EXEC_P50, PYTHON_P99, TERMINAL_P50 } from '../../bench/catalog.js';
import { figuresOwed, phasesToRun, type Phase } from '../../bench/selection.js';

const ids = (specs: { id: string }[]) => specs.map((f) => f.id);

describe('bench: running only some figures (BENCH_ONLY)', () => {
  it('owes every figure when none is named', () => {
    assert.deepEqual(figuresOwed(undefined, ALL_FIGURES), ALL_FIGURES);
  });

  it('owes the named figures and the baselines their targets are judged against, in catalog order', () => {
    assert.deepEqual(ids(figuresOwed([APPEND_ZERO_P50.id], ALL_FIGURES)), [APPEND_OFF_P50.id, APPEND_ZERO_P50.id]);
    assert.deepEqual(ids(figuresOwed([TERMINAL_P50.id, PYTHON_P99.id], ALL_FIGURES)), [COLD_P50.id, EXEC_P50.id, PYTHON_P99.id, TERMINAL_P50.id]);
    // An absolute target needs no baseline.
    assert.deepEqual(ids(figuresOwed([APPEND_10K_OVERHEAD.id], ALL_FIGURES)), [APPEND_10K_OVERHEAD.id]);
  });

  it('follows a baseline that has a baseline of its own', () => {
    const a = { id: 'a', title: 'a', unit: 'ms', target: { kind: 'none' as const }, zeroErrors: true };
    const b = { ...a, id: 'b', target: { kind: 'relative' as const, op: '<=' as const, factor: 1, baseline: 'a' } };
    const c = { ...a, id: 'c', target: { kind: 'relative' as const, op: '<=' as const, factor: 1, baseline: 'b' } };
    assert.deepEqual(ids(figuresOwed(['c'], [a, b, c])), ['a', 'b', 'c']);
  });

  it('runs only the phases that record an owed figure, in their order; table-only phases only in a full run', () => {
    const run = async () => undefined;
    const phases: (Phase & { name: string })[] = [
      { name: 'cold', figures: [COLD_P50], run },
      { name: 'scaling', figures: [], run },
      { name: 'terminal', figures: [TERMINAL_P50], run },
      { name: 'exec', figures: [EXEC_P50], run },
      { name: 'zero loss', figures: [APPEND_OFF_P50, APPEND_ZERO_P50, APPEND_10K_OVERHEAD], run },
    ];
    const names = (only?: string[]) => phasesToRun(phases, figuresOwed(only, ALL_FIGURES), only).map((p) => p.name);
    assert.deepEqual(names(undefined), ['cold', 'scaling', 'terminal', 'exec', 'zero loss']);
    assert.deepEqual(names([TERMINAL_P50.id]), ['terminal', 'exec']);
    assert.deepEqual(names([APPEND_10K_OVERHEAD.id]), ['zero loss']);
  });
});
