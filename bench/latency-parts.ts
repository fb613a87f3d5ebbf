// Where the time of one task goes, read from the task's own workflow history: the times Temporal stamped
// on its events, between the moment the client sent the request and the moment it had the answer. Every
// process runs on this machine, so client and server read one clock.
import type { Client } from '@temporalio/client';
import { forEachLimited } from './load.js';
import { percentile } from './stats.js';

/** A workflow of one activity (a task, or the floor's bare workflow), as the client timed it. */
export interface TimedRun {
  workflowId: string;
  sentMs: number;
  answeredMs: number;
}

/** The event kinds a run of one activity records, in order; a history of any other shape is not split. */
const SHAPE = [
  'workflowExecutionStarted',
  'workflowTaskScheduled', 'workflowTaskStarted', 'workflowTaskCompleted',
  'activityTaskScheduled', 'activityTaskStarted', 'activityTaskCompleted',
  'workflowTaskScheduled', 'workflowTaskStarted', 'workflowTaskCompleted',
  'workflowExecutionCompleted',
] as const;

/** The parts, each the span between two marks: the client's send (-1), event i, the client's answer (99). */
export const PARTS: Array<{ part: string; from: number; to: number }> = [
  { part: 'request to workflow start (HTTP, auth, admission, start call)', from: -1, to: 0 },
  { part: 'first workflow task (decide to run the activity)', from: 0, to: 3 },
  { part: 'activity handed to the runtime worker (matching)', from: 3, to: 5 },
  { part: 'activity run (worker, sandbox, reply)', from: 5, to: 6 },
  { part: 'second workflow task (take the result, complete)', from: 6, to: 9 },
  { part: 'completion to the client (result long poll, answer)', from: 9, to: 99 },
];

export interface HistoryEventTime {
  kind: string;
  atMs: number;
}

/** The parts of one run, in ms; undefined when its history is not the plain one-activity shape (a retry). */
export function splitRun(run: TimedRun, events: HistoryEventTime[]): number[] | undefined {
  if (events.length !== SHAPE.length || events.some((e, i) => e.kind !== SHAPE[i])) return undefined;
  const at = (mark: number) => (mark === -1 ? run.sentMs : mark === 99 ? run.answeredMs : events[mark].atMs);
  return PARTS.map(({ from, to }) => at(to) - at(from));
}

export interface PartsSummary {
  /** Runs split; the others had another history shape (a retried activity) or could not be read. */
  runs: number;
  skipped: number;
  /** Median of each part over the runs, in PARTS order. */
  p50Ms: Array<{ part: string; ms: number }>;
  /** Median of the whole (send to answer) over the same runs. */
  totalP50Ms: number;
}

export function summarizeParts(runs: TimedRun[], split: Array<number[] | undefined>): PartsSummary {
  const kept = split.map((s, i) => ({ s, total: runs[i].answeredMs - runs[i].sentMs })).filter((x): x is { s: number[]; total: number } => x.s !== undefined);
  if (kept.length === 0) throw new Error(`no history of the plain one-activity shape among ${runs.length} runs`);
  const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
  return {
    runs: kept.length,
    skipped: runs.length - kept.length,
    p50Ms: PARTS.map(({ part }, i) => ({ part, ms: median(kept.map((k) => k.s[i])) })),
    totalP50Ms: median(kept.map((k) => k.total)),
  };
}

/** The event's kind as the history JSON names its attributes (`activityTaskStartedEventAttributes` → `activityTaskStarted`). */
export function eventKind(event: Record<string, unknown>): string {
  const key = Object.keys(event).find((k) => k.endsWith('EventAttributes') && event[k] != null);
  return key ? key.slice(0, -'EventAttributes'.length) : 'unknown';
}

export function eventTimeMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

/** Reads each run's history and splits it; a history that cannot be read counts as skipped. */
export async function partsOf(client: Client, runs: TimedRun[]): Promise<PartsSummary> {
  const split = await forEachLimited(runs, 8, async (run) => {
    const history = await client.workflow.getHandle(run.workflowId).fetchHistory();
    const events = (history.events ?? []).map((e) => ({ kind: eventKind(e as Record<string, unknown>), atMs: eventTimeMs(e.eventTime as { seconds?: unknown; nanos?: number }) }));
    return splitRun(run, events);
  });
  return summarizeParts(runs, split.map((s) => (s.status === 'fulfilled' ? s.value : undefined)));
}
