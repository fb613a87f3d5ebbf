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
