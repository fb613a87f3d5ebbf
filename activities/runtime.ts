// The activities of a python runtime worker: echo, pythonExec and runCode, thin over the warm sandbox
// pool, or over a template's own pool when the task names an account template.
import { Context } from '@temporalio/activity';
import { DuraboxError } from '../contract/errors.js';
import type { EchoInput, EchoOutput, PythonExecInput, PythonExecOutput, RunCodeInput, RunCodeOutput } from '../contract/messages.js';
import { SandboxBroken, SandboxCancelled, SandboxTimeout, type PythonSandboxPool } from '../sandbox/python-pool.js';
import type { OnChunk } from '../sandbox/frame-channel.js';
import type { TemplateRef } from '../contract/templates.js';
import { attemptBase, type OutputPublisher } from './output-publisher.js';
import { reportingFailures } from './failures.js';
import { countedInflight, withHeartbeat } from './heartbeat.js';

export interface ActivityDeps {
  python: PythonSandboxPool;
  /** The sandbox pool of an account template's image, built on this host first if it lacks it. */
  templatePool: (ref: TemplateRef) => Promise<PythonSandboxPool>;
  /** Counts executions in flight per runtime, for the worker's reports. */
  inflight: Map<string, number>;
  /** Forwards output while the work runs, for streams; the task's id names its stream. */
  output?: OutputPublisher;
}

export function createActivities(deps: ActivityDeps) {
  return {
    async echo(input: EchoInput): Promise<EchoOutput> {
      return { message: input.message };
    },

    async pythonExec(input: PythonExecInput, template?: TemplateRef, outputGrant?: string): Promise<PythonExecOutput> {
      return inSandbox(outputGrant, async (signal, sink) => {
        const r = await (await poolFor(template)).run(input.code, input.timeout_ms, signal, sink);
        return { output: r.stdout, stderr: r.stderr, exit_code: r.exit_code, stdout_truncated: r.stdout_truncated, stderr_truncated: r.stderr_truncated };
      });
    },

    /** A one-shot cell: a fresh interpreter in a warm sandbox, reset afterwards as for pythonExec. */
    async runCode(input: RunCodeInput, template?: TemplateRef, outputGrant?: string): Promise<RunCodeOutput> {
      return inSandbox(outputGrant, async (signal, sink) => {
        const language = input.language ?? 'python';
        const r = await (await poolFor(template)).runCell({ language, code: input.code }, input.timeout_ms, signal, sink);
        return { ...r, language };
      });
    },
  };

  function poolFor(template: TemplateRef | undefined): Promise<PythonSandboxPool> {
    return template ? deps.templatePool(template) : Promise.resolve(deps.python);
  }

  /**
   * Runs the work in a warm sandbox, its output forwarded to the task's stream (numbered for this attempt)
   * under the grant the task's workflow handed this step; without one there is no stream to post to.
   */
  function inSandbox<T>(grant: string | undefined, work: (signal: AbortSignal, sink: OnChunk | undefined) => Promise<T>): Promise<T> {
    const info = Context.current().info;
    const taskId = grant ? info.workflowExecution?.workflowId : undefined;
    const sink = taskId ? deps.output?.sink(taskId, attemptBase(info.attempt), grant!) : undefined;
    return countedInflight(deps.inflight, 'python', () => withHeartbeat((signal) => reportingFailures(async () => {
      try {
        return await work(signal, sink);
      } catch (e) {
        if (e instanceof SandboxTimeout) throw new DuraboxError('timeout', e.message);
        if (e instanceof SandboxCancelled) throw Context.current().cancellationSignal.reason ?? e;
        if (e instanceof SandboxBroken) throw new DuraboxError('sandbox_broken', e.message);
        throw e; // Docker errors: Temporal retries them
      } finally {
        if (taskId) deps.output?.finish(taskId);
      }
    })));
  }
}

export type RuntimeActivities = ReturnType<typeof createActivities>;
