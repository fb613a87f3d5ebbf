// One workflow per template build (spec §3.2): the image is built on every online host that serves the
// template's base runtime, one activity per host on that host's own queue; each host's result and the end
// of its log are recorded as they come. The template is ready when every host that answered has it, and
// failed when a host's build failed (its log says why) or no host serves the base. A host that went away
// before it took its build is left out: it builds what it lacks when it comes back.
// Deleting the template cancels the workflow: each host's build is cancelled (the host aborts its docker
// build) and the workflow ends once every host has stopped. A second workflow removes a deleted
// template's image from every host, unless another template still uses the same image.
import { ActivityCancellationType, ActivityFailure, ApplicationFailure, TimeoutFailure, isCancellation, proxyActivities } from '@temporalio/workflow';
import type { TemplateActivities } from '../activities/templates.js';
import type { ControlActivities } from '../control/activities.js';
import { CONTROL_TASK_QUEUE, hostTaskQueue } from '../contract/queues.js';
import type { TemplateRef, TemplateStatus } from '../contract/templates.js';

export interface TemplateBuildInput {
  templateId: string;
  ref: TemplateRef;
  /** How long a host may take to pick its build up before it counts as gone. */
  hostTimeoutMs: number;
  /** Longest one host's build may run: the host aborts it then and answers; this workflow waits a minute more. */
  buildTimeoutMs: number;
}

/** A host may take this much longer than the build's own bound to answer (the abort, the answer's way back). */
const ANSWER_GRACE_MS = 60_000;

const control = proxyActivities<ControlActivities>({
  taskQueue: CONTROL_TASK_QUEUE,
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', maximumAttempts: 10 },
});

export async function templateBuildWorkflow(input: TemplateBuildInput): Promise<TemplateStatus> {
  const hosts = await control.templateHosts({ base: input.ref.base });
  if (hosts.length === 0) {
    await control.finishTemplate({ templateId: input.templateId, status: 'failed', error: `no online host serves the ${input.ref.base} runtime` });
    return 'failed';
  }
  const outcomes = await Promise.all(hosts.map((host) => buildOn(host, input)));
  const failed = hosts.filter((_, i) => outcomes[i] === 'failed');
  const built = outcomes.filter((o) => o === 'ready').length;
  const status: TemplateStatus = failed.length === 0 && built > 0 ? 'ready' : 'failed';
  const error = failed.length > 0
    ? `the build failed on ${failed.join(', ')}: see its log`
    : built === 0 ? 'no host took the build in time' : null;
  await control.finishTemplate({ templateId: input.templateId, status, error });
  return status;
}

/** One host's build; its answer (and log) is recorded at once, so the template's view shows progress. */
async function buildOn(host: string, input: TemplateBuildInput): Promise<TemplateStatus | 'gone'> {
  const act = proxyActivities<TemplateActivities>({
    taskQueue: hostTaskQueue(host),
    scheduleToStartTimeout: input.hostTimeoutMs,
    startToCloseTimeout: input.buildTimeoutMs + ANSWER_GRACE_MS,
    // A cancellation reaches the host with its next heartbeat, which the SDK sends at most every 80% of this.
    heartbeatTimeout: '10s',
    // A deleted template's workflow ends only once the host has really stopped building.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    // A worker that restarts mid-build builds again; the same failure twice is the package's, not the host's.
    retry: { initialInterval: '1s', maximumAttempts: 2 },
  });
  await control.recordTemplateHost({ templateId: input.templateId, nodeId: host, status: 'building', seconds: null, log: '' });
  try {
    const r = await act.buildTemplate(input.ref);
    const status: TemplateStatus = r.ok ? 'ready' : 'failed';
    await control.recordTemplateHost({ templateId: input.templateId, nodeId: host, status, seconds: r.seconds, log: r.log });
    return status;
  } catch (e) {
    if (isCancellation(e)) throw e;
    const cause = e instanceof ActivityFailure ? e.cause : undefined;
    const gone = cause instanceof TimeoutFailure && (cause.timeoutType === 'SCHEDULE_TO_START' || cause.timeoutType === 'HEARTBEAT');
    const message = cause instanceof ApplicationFailure || cause instanceof TimeoutFailure ? cause.message : (e as Error).message;
    await control.recordTemplateHost({
      templateId: input.templateId, nodeId: host, status: gone ? 'building' : 'failed', seconds: null,
      log: gone ? 'the host went away before it built the template: it builds it when it comes back' : message,
    });
    return gone ? 'gone' : 'failed';
  }
}

export interface TemplatePruneInput {
  image: string;
  base: TemplateRef['base'];
}

/**
 * A deleted template's image, removed from every online host of its base (a host that is offline now
 * removes it when it starts). Each host keeps it while a live template still names it, or while a
 * container still runs on it (then later).
 */
export async function templatePruneWorkflow(input: TemplatePruneInput): Promise<number> {
  const hosts = await control.templateHosts({ base: input.base });
  const results = await Promise.allSettled(hosts.map((host) => proxyActivities<TemplateActivities>({
    taskQueue: hostTaskQueue(host),
    scheduleToStartTimeout: '60s',
    startToCloseTimeout: '60s',
    retry: { maximumAttempts: 3 },
  }).pruneTemplateImage(input.image)));
  return results.filter((r) => r.status === 'fulfilled' && r.value).length;
}
