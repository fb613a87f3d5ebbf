// Where more clients stop buying throughput: the scaling table's one-line reading.
import { formatNumber } from './figures.js';

export interface ScalingPoint {
  clients: number;
  perSec: number;
  p50Ms: number;
}

export interface Knee {
  /** The client count after which throughput grows by less than `minGain` while p50 grows; none if it never does. */
  clients?: number;
  text: string;
}

/** The first step (in client order) where throughput grows less than `minGain` (a fraction) while p50 grows. */
export function findKnee(points: ScalingPoint[], minGain = 0.1): Knee {
  const sorted = [...points].sort((a, b) => a.clients - b.clients);
  if (sorted.length < 2) return { text: 'fewer than two client counts measured: no knee to find' };
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    const gain = b.perSec / a.perSec - 1;
    if (gain < minGain && b.p50Ms > a.p50Ms) {
      return {
        clients: a.clients,
        text: `the knee is at ${a.clients} clients: from ${a.clients} to ${b.clients} throughput ${gain < 0 ? 'falls' : 'grows'} ${Math.abs(gain * 100).toFixed(0)}% `
          + `(${formatNumber(a.perSec)} → ${formatNumber(b.perSec)} runs/s) while p50 grows ${(b.p50Ms / a.p50Ms).toFixed(1)}× (${formatNumber(a.p50Ms)} → ${formatNumber(b.p50Ms)} ms)`,
      };
    }
  }
  return { text: `no knee up to ${sorted[sorted.length - 1].clients} clients: every step adds at least ${(minGain * 100).toFixed(0)}% throughput (or p50 does not grow)` };
}
