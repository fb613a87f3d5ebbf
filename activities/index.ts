// The activities a runtime worker serves. All I/O of an execution lives here; workflows only proxy them.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { EchoInput, EchoOutput, PythonExecInput, PythonExecOutput } from '../workflows/shared.js';
import { countedInflight, withHeartbeat } from './heartbeat.js';
import { SandboxBroken, SandboxCancelled, SandboxTimeout, type PythonSandboxPool } from './python-pool.js';

export interface ActivityDeps {
  python: PythonSandboxPool;
  /** Counts executions in flight per runtime, for the worker's reports. */
  inflight: Map<string, number>;
}

export function createActivities(deps: ActivityDeps) {
  return {
    async echo(input: EchoInput): Promise<EchoOutput> {
      return { message: input.message };
    },

    async pythonExec(input: PythonExecInput): Promise<PythonExecOutput> {
      return countedInflight(deps.inflight, 'python', () => withHeartbeat(async (signal) => {
        try {
          const r = await deps.python.run(input.code, input.timeout_ms, signal);
          return { output: r.stdout, stderr: r.stderr, exit_code: r.exit_code, stdout_truncated: r.stdout_truncated, stderr_truncated: r.stderr_truncated };
        } catch (e) {
          if (e instanceof SandboxTimeout) throw ApplicationFailure.create({ type: 'timeout', message: e.message, nonRetryable: true });
          if (e instanceof SandboxCancelled) throw Context.current().cancellationSignal.reason ?? e;
          if (e instanceof SandboxBroken) throw ApplicationFailure.create({ type: 'sandbox_broken', message: e.message });
          throw e; // Docker errors: Temporal retries them
        }
      }));
    },
  };
}

export type RuntimeActivities = ReturnType<typeof createActivities>;
