// Latency summaries: nearest-rank percentiles over the timed samples.

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of ascending values; p in 0..100. */
export function percentile(sortedAsc: number[], p: number): number {
  if (sortedAsc.length === 0) throw new Error('percentile of no samples');
  const rank = Math.ceil((p / 100) * sortedAsc.length);
  return sortedAsc[Math.min(sortedAsc.length, Math.max(1, rank)) - 1];
}

export function summarize(valuesMs: number[]): LatencySummary {
  const s = [...valuesMs].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    min: s[0],
    max: s[s.length - 1],
  };
}

/** Distinct error messages with how often each was seen, so a report shows causes, not just a count. */
export class ErrorTally {
  count = 0;
  private readonly byMessage = new Map<string, number>();

  add(err: unknown): void {
    this.count++;
    const message = err instanceof Error ? err.message : String(err);
    this.byMessage.set(message, (this.byMessage.get(message) ?? 0) + 1);
  }

  top(limit = 5): { message: string; count: number }[] {
    return [...this.byMessage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([message, count]) => ({ message, count }));
  }
}
