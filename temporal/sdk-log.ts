// The Temporal SDK's own lines (its workers, activities, workflows' `log`, and Core's) in durabox's
// JSON log. A failure that is an ordinary outcome of a request (the user's code timed out, a session
// was busy) is the platform working as meant: it goes out at info with its code, without a stack.
import type { LogLevel as SdkLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import type { SdkLogLevel } from '../config/index.js';
import type { Logger } from '../config/log.js';
import { isOrdinaryOutcome } from '../contract/errors.js';

const ORDER: Record<SdkLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };
const PINO_LEVEL = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** A worker that polls for activities only says so at WARN on every start; that is our design, not news. */
const EXPECTED = /^No (workflows|activities|Nexus services) registered/;

/** The SDK's metadata names as durabox's own lines spell them, so one query finds both. */
const FIELD_NAMES: Record<string, string> = {
  workflowId: 'workflow_id', runId: 'run_id', workflowType: 'workflow_type', taskQueue: 'task_queue',
  activityId: 'activity_id', activityType: 'activity_type', sdkComponent: 'sdk_component', durationMs: 'duration_ms',
  isLocal: 'is_local', workflowRunId: 'run_id',
};

/** An activity's task token lets whoever holds it complete that activity: never written out. */
const DROPPED = new Set(['error', 'taskToken']);

const FAILURE_MESSAGES = new Set(['Workflow failed', 'Activity failed']);

/**
 * The code of a failure that is an ordinary outcome, else undefined. An activity's error is still the
 * ApplicationFailure it threw; a workflow's lost its type crossing threads, so the workflow's interceptor
 * (workflows/log-attributes.ts) sends the code as `error_code`.
 */
export function ordinaryOutcomeOf(message: string, meta: LogMetadata): string | undefined {
  if (!FAILURE_MESSAGES.has(message)) return undefined;
  const error = meta.error as { type?: unknown } | undefined;
  const code = meta.error_code ?? error?.type;
  return isOrdinaryOutcome(code) ? code : undefined;
}

export class SdkLogForwarder implements SdkLogger {
  constructor(private readonly out: Logger, private readonly minimum: SdkLogLevel) {}

  log(level: SdkLevel, message: string, meta: LogMetadata = {}): void {
    if (ORDER[level] < ORDER[this.minimum] || EXPECTED.test(message)) return;
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta)) {
      if (DROPPED.has(k)) continue;
      fields[FIELD_NAMES[k] ?? k] = v;
    }
    const code = ordinaryOutcomeOf(message, meta);
    if (code) {
      this.out.info({ ...fields, error_code: code, error_message: (meta.error as Error | undefined)?.message }, message);
      return;
    }
    if (meta.error !== undefined) fields.err = meta.error;
    this.out[PINO_LEVEL[level]](fields, message);
  }

  trace(message: string, meta?: LogMetadata): void { this.log('TRACE', message, meta); }
  debug(message: string, meta?: LogMetadata): void { this.log('DEBUG', message, meta); }
  info(message: string, meta?: LogMetadata): void { this.log('INFO', message, meta); }
  warn(message: string, meta?: LogMetadata): void { this.log('WARN', message, meta); }
  error(message: string, meta?: LogMetadata): void { this.log('ERROR', message, meta); }
}
