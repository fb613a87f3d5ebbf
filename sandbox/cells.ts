// Code cells as the PID 1 programs answer them (kernel-driver.py runs them), in the wire's shape.
import type { CellResult } from '../contract/messages.js';

/**
 * How long past its timeout a cell may take to be answered: its interpreter's start-up (not counted in
 * the cell's timeout, at most 20 s), the interrupt (2 s) and a margin. Only a sandbox that stopped
 * answering is given up on after it.
 */
export const CELL_INTERRUPT_GRACE_MS = 25_000;

/** A cell's answer as the kernel driver gives it, in the wire's shape (an absent error is left out). */
export function cellResultOf(raw: unknown): CellResult {
  const r = raw as (CellResult & { error?: CellResult['error'] | null }) | null;
  if (!r || !Array.isArray(r.results)) throw new Error('the sandbox answered a cell without a result');
  const { error, ...rest } = r;
  return {
    ...rest,
    timed_out: rest.timed_out === true,
    context_restarted: rest.context_restarted === true,
    results_truncated: rest.results_truncated === true,
    ...(error ? { error } : {}),
  };
}
