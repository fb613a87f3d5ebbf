// Two ways of driving an operation: one client after another (latency), and N clients in a closed
// loop for a fixed window (throughput). An operation resolves on success and throws on any failure.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ErrorTally, summarize, type LatencySummary } from './stats.js';
import { failed, type Measurement, type Outcome } from './figures.js';

/** Resolves on success (optionally with an untimed clean-up step), throws on any failure. */
export type Operation = () => Promise<void | (() => Promise<void>)>;

export interface LatencyRun {
  latency: LatencySummary;
  errors: number;
  errorMessages: { message: string; count: number }[];
  /** 1-minute load average before and after: other work on the machine shows up here. */
  load: [number, number];
  /** Every timed sample in run order, so a later look can find outliers and trends. */
  samplesMs: number[];
}

export interface ThroughputRun {
  clients: number;
  windowSec: number;
  /** Successful operations that finished inside the window. */
  completed: number;
  perSec: number;
  errors: number;
  errorMessages: { message: string; count: number }[];
  latency?: LatencySummary;
  load: [number, number];
}

/** Gives up after this many failures in a row: the thing under test is broken, not slow. */
const MAX_CONSECUTIVE_FAILURES = 5;

export async function measureSequential(op: Operation, o: { samples: number; warmup: number }): Promise<LatencyRun> {
  const [run] = await measureInterleaved([op], o);
  if (failed(run)) throw new Error(run.error);
  return run;
}

/** One operation's samples and failures during a latency run. */
class Sampler {
  readonly timed: number[] = [];
  readonly tally = new ErrorTally();
  private consecutive = 0;
  /** Set once the operation failed MAX_CONSECUTIVE_FAILURES times in a row: it is not run again. */
  gaveUp?: string;

  constructor(private readonly op: Operation, private readonly warmup: number) {}

  async run(i: number): Promise<void> {
    const started = performance.now();
    try {
      const cleanUp = await this.op();
      const elapsed = performance.now() - started;
      if (cleanUp) await cleanUp();
      this.consecutive = 0;
      if (i >= this.warmup) this.timed.push(elapsed);
    } catch (err) {
      if (i >= this.warmup) this.tally.add(err);
      if (++this.consecutive >= MAX_CONSECUTIVE_FAILURES) this.gaveUp = err instanceof Error ? err.message : String(err);
    }
  }
}

/**
 * Latency of several operations measured side by side: round after round, each operation once, the
 * first one of a round moving along by one each round. A load that comes and goes on the machine then
 * lands on every operation alike, so their difference is the operations' own. One operation that keeps
 * failing ends only its own run.
 */
export async function measureInterleaved(ops: Operation[], o: { samples: number; warmup: number }): Promise<Outcome<LatencyRun>[]> {
  const loadBefore = loadavg()[0];
  const samplers = ops.map((op) => new Sampler(op, o.warmup));
  for (let i = 0; i < o.warmup + o.samples; i++) {
    for (const k of roundOrder(samplers.length, i)) {
      if (samplers[k].gaveUp === undefined) await samplers[k].run(i);
    }
  }
  const load: [number, number] = [loadBefore, loadavg()[0]];
  return samplers.map((s): Outcome<LatencyRun> => {
    if (s.gaveUp !== undefined) return { error: s.gaveUp };
    if (s.timed.length === 0) return { error: `all ${o.samples} runs failed: ${s.tally.top(1)[0]?.message}` };
    return { latency: summarize(s.timed), errors: s.tally.count, errorMessages: s.tally.top(), load, samplesMs: s.timed.map((ms) => Math.round(ms * 100) / 100) };
  });
}

/** The order of round `round` over `n` operations: 0..n-1 turned by `round`, so no operation always goes first. */
export function roundOrder(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, k) => (k + round) % n);
}

/** Told the instant the timed window starts and the instant it ends (operations still running then finish after it). */
export interface WindowHooks {
  start(): void;
  end(): void;
}

export async function measureThroughput(op: Operation, o: { clients: number; windowSec: number; window?: WindowHooks }): Promise<ThroughputRun> {
  // One untimed operation per client first, so the window starts with everything warm.
  await Promise.all(Array.from({ length: o.clients }, () => op().catch(() => undefined)));
  const loadBefore = loadavg()[0];
  o.window?.start();
  const tally = new ErrorTally();
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + o.windowSec * 1000;
  let completed = 0;
  // A broken endpoint fails fast; no need to hammer it for the whole window.
  const hopeless = () => completed === 0 && tally.count >= 10 * o.clients;
  const client = async () => {
    while (performance.now() < end && !hopeless()) {
      const started = performance.now();
      try {
        const cleanUp = await op();
        const finished = performance.now();
        if (cleanUp) await cleanUp();
        if (finished <= end) {
          completed++;
          latencies.push(finished - started);
        }
      } catch (err) {
        tally.add(err);
      }
    }
  };
  let ended = false;
  const endWindow = () => {
    if (!ended) o.window?.end();
    ended = true;
  };
  const timer = setTimeout(endWindow, o.windowSec * 1000);
  await Promise.all(Array.from({ length: o.clients }, client));
  clearTimeout(timer);
  endWindow(); // when every client gave up early
  return {
    clients: o.clients,
    windowSec: o.windowSec,
    completed,
    perSec: completed / o.windowSec,
    errors: tally.count,
    errorMessages: tally.top(),
    latency: latencies.length > 0 ? summarize(latencies) : undefined,
    load: [loadBefore, loadavg()[0]],
  };
}

/** Runs `op` for each item with at most `limit` at a time; never throws, returns each outcome. */
export async function forEachLimited<T, R>(items: T[], limit: number, op: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await op(items[i]) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** One percentile of a latency run as a figure's measurement; the whole run goes into the details. */
export function latencyMeasurement(run: Outcome<LatencyRun>, pick: 'p50' | 'p99'): Outcome<Measurement> {
  if (failed(run)) return run;
  return { value: run.latency[pick], errors: run.errors, details: { ...run } };
}

export function throughputMeasurement(run: Outcome<ThroughputRun>): Outcome<Measurement> {
  if (failed(run)) return run;
  if (run.completed === 0) return { error: `no operation succeeded in ${run.windowSec} s: ${run.errorMessages[0]?.message ?? 'no error either'}` };
  return { value: run.perSec, errors: run.errors, details: { ...run } };
}

/** Rejects when `p` takes longer than `ms`, so one stuck call fails a sample instead of hanging the run. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}
