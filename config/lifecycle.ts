// Clean stops on Ctrl+C / SIGTERM: every part gets to remove its containers and close its connections;
// and a start that fails says why in one log line instead of a bare stack on stderr.
import { ConfigError } from './index.js';
import { errorFields, type Logger } from './log.js';

export function onShutdownSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, `${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    log.info({ signal }, `${signal}: shutting down`);
    stop().then(
      () => process.exit(0),
      (e) => {
        log.error(errorFields(e), 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** The process could not start: a setting out of range is named without a stack; anything else with one. */
export function exitStartFailed(log: Logger, e: unknown): never {
  if (e instanceof ConfigError) log.fatal(e.message);
  else log.fatal(errorFields(e), `cannot start: ${(e as Error)?.message ?? String(e)}`);
  process.exit(1);
}

/**
 * A process that serves many accounts keeps serving when one container or request throws where nothing
 * catches it (a stream's event handler, a promise nobody awaits): the error is logged with its stack and
 * the process goes on, instead of ending every other account's work with it. Each such line is a defect
 * to fix where it was thrown.
 */
export function logUnexpectedErrors(log: Logger): void {
  process.on('uncaughtException', (e, origin) => {
    log.error({ ...errorFields(e), origin }, `unexpected exception, process kept running: ${(e as Error)?.message ?? String(e)}`);
  });
  process.on('unhandledRejection', (e) => {
    log.error(errorFields(e), `unhandled promise rejection, process kept running: ${(e as Error)?.message ?? String(e)}`);
  });
}
