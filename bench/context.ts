// What every phase of the bench works with, and where its figures go.
import type Docker from 'dockerode';
import type { DuraboxApi } from './api-client.js';
import type { Figure } from './figures.js';
import type { BenchSettings } from './settings.js';

export interface BenchContext {
  settings: BenchSettings;
  docker: Docker;
  /** Distinguishes this run's containers from any other run's on the same daemon. */
  runTag: string;
  figures: Figure[];
  /** Figures by id, so a target can refer to a baseline measured earlier in the run. */
  byId: Map<string, Figure>;
}

export interface PlatformContext extends BenchContext {
  api: DuraboxApi;
  /** The runtime worker under test: its id labels its containers, its pid gives its RSS. */
  worker: { id: string; pid: number };
  /** The Temporal dev server's pid; the API runs in this process. */
  temporalPid: number;
}

export function addFigure(ctx: BenchContext, figure: Figure): void {
  ctx.figures.push(figure);
  ctx.byId.set(figure.id, figure);
}
