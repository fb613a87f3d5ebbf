// Workflow interceptors (bundled with the workflows) that name a workflow's failure in the SDK's own
// "Workflow failed" line: the error reaches the worker's logger stripped of its type (it crosses a
// thread), so the code rides along as a log attribute and the logger can tell a user's timeout from
// a platform fault. Deterministic: no commands, only attributes of log lines.
import { ApplicationFailure, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => {
  let errorCode: string | undefined;
  return {
    inbound: [{
      async execute(input, next) {
        try {
          return await next(input);
        } catch (e) {
          if (e instanceof ApplicationFailure && e.type) errorCode = e.type;
          throw e;
        }
      },
    }],
    outbound: [{
      getLogAttributes(input, next) {
        return next(errorCode ? { ...input, error_code: errorCode } : input);
      },
    }],
  };
};
