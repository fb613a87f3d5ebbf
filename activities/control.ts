// Activities of the control worker (the API process): steps of a task that talk to other workflows.
// A terminalExec task sends its command to the session's workflow as an Update; the task id is the
// update id, so a retried step never runs the command twice.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { TerminalExecInput, TerminalExecOutput } from '../workflows/shared.js';
import { SessionError, type SessionService } from '../api/session-service.js';

export function createControlActivities(deps: { sessions: SessionService }) {
  return {
    async terminalExecInSession(req: { accountId: string; input: TerminalExecInput }): Promise<TerminalExecOutput> {
      try {
        return await deps.sessions.exec(req.accountId, req.input, Context.current().info.workflowExecution?.workflowId);
      } catch (e) {
        if (e instanceof SessionError) {
          throw ApplicationFailure.create({ type: e.code, message: e.message, nonRetryable: true, details: e.details ? [e.details] : [] });
        }
        throw e;
      }
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
