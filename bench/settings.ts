// The bench's knobs, all read from the environment so a shorter run needs no code change.
import { ALL_FIGURES } from './catalog.js';

export interface BenchSettings {
  /** Timed runs per latency figure. */
  samples: number;
  /** Timed `docker run --rm` runs for the cold baseline; each costs ~0.3 s, so it has its own, smaller default. */
  coldSamples: number;
  /** Timed rounds of the MCP figures; a round holds a task polled to its end (about a second), so it has its own, smaller default. */
  mcpSamples: number;
  /** Timed new sessions (each creates and then deletes a container). */
  sessionSamples: number;
  /** Untimed runs before each latency figure. */
  warmup: number;
  /** Concurrent clients for the throughput figures. */
  clients: number;
  throughputSec: number;
  /** Client counts of the scaling table; the BENCH_CLIENTS row reuses the main throughput window. */
  scalingClients: number[];
  /** Window of each other scaling row. */
  scalingSec: number;
  /** Idle sessions held at each step of the session table, ascending; the idle-session figures come from the last. */
  sessionLevels: number[];
  /** How many sessions are opened at once while filling the host. */
  idleOpenConcurrency: number;
  idleLeaseSec: number;
  /** How long the idle sessions sit before their memory is read, so start-up allocations settle. */
  idleHoldSec: number;
  /** DURABOX_MAX_INFLIGHT of the runtime worker under test. */
  maxInflight: number;
  /** Pause between phases, so one phase's clean-up (containers being removed) does not land in the next. */
  settleSec: number;
  /** Limit on any single HTTP call or Docker operation, so a stuck call fails the figure instead of the run. */
  requestTimeoutMs: number;
  /** Figure ids to measure (with the baselines their targets need); every figure when absent. */
  only?: string[];
}

export function readBenchSettings(env: Record<string, string | undefined> = process.env): BenchSettings {
  // An old command line must not silently open a thousand sessions instead of the few it asked for.
  if (env.BENCH_IDLE_SESSIONS?.trim()) throw new Error('BENCH_IDLE_SESSIONS is replaced by BENCH_SESSION_LEVELS (ascending counts, e.g. 10,30)');
  const samples = positiveInt(env, 'BENCH_SAMPLES', 200);
  return {
    samples,
    coldSamples: positiveInt(env, 'BENCH_COLD_SAMPLES', Math.min(samples, 100)),
    mcpSamples: positiveInt(env, 'BENCH_MCP_SAMPLES', Math.min(samples, 40)),
    sessionSamples: positiveInt(env, 'BENCH_SESSION_SAMPLES', 50),
    warmup: positiveInt(env, 'BENCH_WARMUP', 5, 0),
    clients: positiveInt(env, 'BENCH_CLIENTS', 16),
    throughputSec: positiveInt(env, 'BENCH_THROUGHPUT_SEC', 60),
    scalingClients: ascendingInts(env, 'BENCH_SCALING_CLIENTS', [1, 4, 16, 64]),
    scalingSec: positiveInt(env, 'BENCH_SCALING_SEC', 20),
    sessionLevels: ascendingInts(env, 'BENCH_SESSION_LEVELS', [200, 1000]),
    idleOpenConcurrency: positiveInt(env, 'BENCH_IDLE_OPEN_CONCURRENCY', 4),
    idleLeaseSec: positiveInt(env, 'BENCH_IDLE_LEASE_SEC', 1800),
    idleHoldSec: positiveInt(env, 'BENCH_IDLE_HOLD_SEC', 5, 0),
    maxInflight: positiveInt(env, 'BENCH_MAX_INFLIGHT', 4),
    settleSec: positiveInt(env, 'BENCH_SETTLE_SEC', 2, 0),
    requestTimeoutMs: positiveInt(env, 'BENCH_REQUEST_TIMEOUT_MS', 120_000),
    ...figureIds(env, 'BENCH_ONLY'),
  };
}

/**
 * A comma-separated list of figure ids from the catalog, each may end in `*` for every id it begins
 * (`mcp*`); a misspelt id, or a prefix that matches none, is refused, not silently skipped.
 */
function figureIds(env: Record<string, string | undefined>, name: string): { only?: string[] } {
  const raw = env[name]?.trim();
  if (!raw) return {};
  const entries = raw.split(',').map((x) => x.trim());
  const known = ALL_FIGURES.map((f) => f.id);
  const matches = (entry: string) => (entry.endsWith('*') ? known.filter((id) => id.startsWith(entry.slice(0, -1))) : known.filter((id) => id === entry));
  const unknown = entries.filter((entry) => matches(entry).length === 0);
  if (unknown.length > 0) {
    throw new Error(`${name}: unknown figure id(s) ${unknown.map((id) => JSON.stringify(id)).join(', ')}; known: ${known.join(', ')}`);
  }
  return { only: [...new Set(entries.flatMap(matches))] };
}

function positiveInt(env: Record<string, string | undefined>, name: string, fallback: number, min = 1): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A comma-separated list of integers >= 1, each larger than the one before. */
function ascendingInts(env: Record<string, string | undefined>, name: string, fallback: number[]): number[] {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const list = raw.split(',').map((x) => Number(x.trim()));
  if (list.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= list[i - 1]))) {
    throw new Error(`${name} must be ascending integers >= 1, comma-separated, got ${JSON.stringify(raw)}`);
  }
  return list;
}
