// BENCH_ONLY: a short run of a few figures. A figure is measured by the phase that measures it, and a
// figure judged against a baseline needs that baseline in the same run, so both come along.
import { baselinesOf, type FigureSpec } from './figures.js';

export interface Phase {
  /** Every figure the phase records; none for a phase that only fills a table. */
  figures: FigureSpec[];
  run(): Promise<void>;
}

/** The figures a run owes: those named, with the baselines they are judged or read against (and theirs); all when none are named. */
export function figuresOwed(only: string[] | undefined, all: FigureSpec[]): FigureSpec[] {
  if (!only) return all;
  const wanted = new Set(only);
  const byId = new Map(all.map((f) => [f.id, f]));
  const pending = [...wanted];
  while (pending.length > 0) {
    const spec = byId.get(pending.pop()!);
    for (const id of spec ? baselinesOf(spec) : []) {
      if (wanted.has(id)) continue;
      wanted.add(id);
      pending.push(id);
    }
  }
  return all.filter((f) => wanted.has(f.id));
}

/**
 * The phases that measure any owed figure, in their order; every phase when nothing is named (a phase
 * that only fills a table runs only then).
 */
export function phasesToRun<P extends Phase>(phases: P[], owed: FigureSpec[], only: string[] | undefined): P[] {
  if (!only) return phases;
  const ids = new Set(owed.map((f) => f.id));
  return phases.filter((p) => p.figures.some((f) => ids.has(f.id)));
}
