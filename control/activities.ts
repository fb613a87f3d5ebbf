// Activities of the control worker (the API process): steps of a task that talk to other workflows.
// A terminalExec (or in-session runCode) task sends its work to the session's workflow as an Update;
// the task id is the update id, so a retried step never runs it twice.
import { Context } from '@temporalio/activity';
import { asActivityFailure } from '../activities/failures.js';
import { withHeartbeat } from '../activities/heartbeat.js';
import type { RunCodeInput, RunCodeOutput, TerminalExecInput, TerminalExecOutput } from '../contract/messages.js';
import type { TemplateStatus } from '../contract/templates.js';
import type { SnapshotStore } from '../db/snapshots.js';
import type { TemplateStore } from '../db/templates.js';
import type { WorkerStore } from '../db/workers.js';
import type { SessionService } from './session-service.js';
import { signGrant } from './host-grants.js';

export interface ControlDeps { sessions: SessionService; snapshots: SnapshotStore; templates: TemplateStore; workers: WorkerStore; hashKey: string }

export function createControlActivities(deps: ControlDeps) {
  return {
    /** The hosts a template's build goes to: every online worker serving its base runtime. */
    async templateHosts(req: { base: string }): Promise<string[]> {
      return deps.workers.onlineWorkersFor(req.base);
    },

    async recordTemplateHost(req: { templateId: string; nodeId: string; status: TemplateStatus; seconds: number | null; log: string }): Promise<void> {
      await deps.templates.recordHost({ templateId: req.templateId }, req.nodeId, req);
    },

    async finishTemplate(req: { templateId: string; status: TemplateStatus; error: string | null }): Promise<void> {
      await deps.templates.finish(req.templateId, req.status, req.error);
    },

    /**
     * The grant a session's step hands its host to store or read the session's checkpoint: that host (or
     * any, for a step on the shared queue), that session, for the step's time. A local activity: signed in
     * the control worker that runs the session's workflow, never with a key in workflow code or history.
     */
    async signSnapshotGrant(req: { accountId: string; sessionId: string; hostId: string; ttlMs: number; generation?: number }): Promise<string> {
      return signGrant(deps.hashKey, { k: 'snapshot', a: req.accountId, s: req.sessionId, h: req.hostId, x: Date.now() + req.ttlMs, ...(req.generation !== undefined ? { g: req.generation } : {}) });
    },

    /**
     * How long ago the host last reported in (its worker's heartbeat), in ms; null when it never did or
     * was deleted. A session step waits for a host silent for less than DURABOX_SESSION_HOST_GONE_SEC.
     */
    async hostSilentMs(req: { hostId: string }): Promise<number | null> {
      return deps.workers.silentMs(req.hostId);
    },

    /** An ended session's checkpoint goes with it. */
    async dropSessionSnapshot(req: { accountId: string; sessionId: string }): Promise<void> {
      await deps.snapshots.drop(req.accountId, req.sessionId);
    },

    async terminalExecInSession(req: { accountId: string; input: TerminalExecInput }): Promise<TerminalExecOutput> {
      return asTaskStep((taskId) => deps.sessions.exec(req.accountId, req.input, taskId, taskId));
    },

    async runCodeInSession(req: { accountId: string; input: RunCodeInput }): Promise<RunCodeOutput> {
      return asTaskStep((taskId) => deps.sessions.runCode(req.accountId, req.input, taskId, taskId));
    },
  };
}

/**
 * Runs a step with its task's id, which is the update's id (never run twice) and its stream's. It
 * heartbeats while the command runs, so a killed API is noticed in seconds and the step retried elsewhere.
 */
async function asTaskStep<T>(step: (taskId: string | undefined) => Promise<T>): Promise<T> {
  return withHeartbeat(async () => {
    try {
      return await step(Context.current().info.workflowExecution?.workflowId);
    } catch (e) {
      throw asActivityFailure(e);
    }
  });
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
