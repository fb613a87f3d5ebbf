// Activities of the control worker (the API process): steps of a task that talk to other workflows.
// A terminalExec (or in-session runCode) task sends its work to the session's workflow as an Update;
// the task id is the update id, so a retried step never runs it twice.
import { Context } from '@temporalio/activity';
import { asActivityFailure } from '../activities/failures.js';
import type { RunCodeInput, RunCodeOutput, TerminalExecInput, TerminalExecOutput } from '../contract/messages.js';
import type { SessionService } from './session-service.js';

export function createControlActivities(deps: { sessions: SessionService }) {
  return {
    async terminalExecInSession(req: { accountId: string; input: TerminalExecInput }): Promise<TerminalExecOutput> {
      try {
        const taskId = Context.current().info.workflowExecution?.workflowId;
        // The task's id is the update's id (never run twice) and its stream's.
        return await deps.sessions.exec(req.accountId, req.input, taskId, taskId);
      } catch (e) {
        throw asActivityFailure(e);
      }
    },

    async runCodeInSession(req: { accountId: string; input: RunCodeInput }): Promise<RunCodeOutput> {
      try {
        const taskId = Context.current().info.workflowExecution?.workflowId;
        return await deps.sessions.runCode(req.accountId, req.input, taskId, taskId);
      } catch (e) {
        throw asActivityFailure(e);
      }
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
