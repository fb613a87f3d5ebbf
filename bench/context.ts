// What every phase of the bench works with, and where its figures and tables go.
import type Docker from 'dockerode';
import type { DuraboxApi } from './api-client.js';
import type { TemporalFloor } from './temporal-floor.js';
import type { Figure, Outcome } from './figures.js';
import type { SessionLevel } from './idle-sessions.js';
import type { PartsSummary } from './latency-parts.js';
import type { MeasuredWindow } from './load-child.js';
import type { ThroughputScaling } from './scaling.js';
import type { ZeroLossRow } from './durability-figures.js';
import type { BenchSettings } from './settings.js';

/** What the report shows beside the figures. */
export interface BenchTables {
  /** The pythonExec throughput window of BENCH_CLIENTS clients: its cost by part, and a row of the scaling table. */
  pythonWindow?: Outcome<MeasuredWindow>;
  throughputScaling?: ThroughputScaling;
  sessionLevels?: SessionLevel[];
  /** Where one client's pythonExec spends its time, beside the bare Temporal floor, from their histories. */
  latencyParts?: { python?: Outcome<PartsSummary>; floor?: Outcome<PartsSummary> };
  /** `echo x >> f` by durability setting, for each workspace. */
  zeroLoss?: ZeroLossRow[];
}

/** An API process of its own (`npm run api`) on the platform's database and Temporal. */
export interface StartedApi {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

export interface BenchContext {
  settings: BenchSettings;
  docker: Docker;
  /** Distinguishes this run's containers from any other run's on the same daemon. */
  runTag: string;
  figures: Figure[];
  /** Figures by id, so a target can refer to a baseline measured earlier in the run. */
  byId: Map<string, Figure>;
  tables: BenchTables;
}

export interface PlatformContext extends BenchContext {
  api: DuraboxApi;
  /** The runtime worker under test: its id labels its containers, its pid gives its RSS. */
  worker: { id: string; pid: number };
  /** The Temporal dev server's pid; the API runs in this process. */
  temporalPid: number;
  /** The dev server's Prometheus endpoint, for its request counters. */
  temporalMetricsUrl?: string;
  temporalNamespace: string;
  /** The bare Temporal workflow beside the platform, and a client that reads any workflow's history. */
  floor: TemporalFloor;
  /** The host gateway between the worker and Temporal, when the platform runs one. */
  gatewayPid?: number;
  /** Sets DURABOX_SESSION_PAUSE_AFTER_SEC of the API in this process, for sessions started from now on. */
  setPauseAfterSec(sec: number): void;
  /**
   * Starts an API process with `settings` over the platform's, for sessions that need settings of their
   * own (a session takes them from the API that starts it). The run stops any the phase left running.
   */
  startApi(settings: Record<string, string>): Promise<StartedApi>;
  /** The workflow id of one of the bench account's sessions, to read its history. */
  sessionWorkflowId(sessionId: string): string;
}

export function addFigure(ctx: BenchContext, figure: Figure): void {
  ctx.figures.push(figure);
  ctx.byId.set(figure.id, figure);
}
