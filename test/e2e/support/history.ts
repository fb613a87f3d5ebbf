// Reading a workflow history as Temporal stores it: every payload it carries.
import type { Payload } from '@temporalio/common';

/**
 * Every payload in a history except search attributes (plain on purpose: Temporal indexes them) and the
 * SDK's patch markers (written by the SDK's core, they hold only the patch's id, a constant of the code).
 */
export function payloadsIn(history: unknown): Payload[] {
  const found: Payload[] = [];
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object' || v instanceof Uint8Array) return;
    if (Array.isArray(v)) return v.forEach(walk);
    const o = v as Record<string, unknown>;
    if ('indexedFields' in o) return;
    if (o.markerName === 'core_patch') return;
    if (o.metadata && typeof o.metadata === 'object' && 'data' in o) {
      found.push(o as Payload);
      return;
    }
    Object.values(o).forEach(walk);
  };
  walk(history);
  return found;
}
