// Entry point of an execution host: `npm run worker`. One per host; it serves DURABOX_RUNTIMES.
import { loadTemporalSettings, loadTracingSettings, loadWorkerSettings } from '../config/index.js';
import { exitStartFailed, logUnexpectedErrors, onShutdownSignal } from '../config/lifecycle.js';
import { componentLog, errorFields } from '../config/log.js';
import { installTemporalRuntime } from '../temporal/connection.js';
import { startTracing } from '../telemetry/tracing.js';
import { startLine, startRuntimeWorker } from './runtime-worker.js';

let log = componentLog('worker');
logUnexpectedErrors(log);
try {
  const config = loadWorkerSettings();
  const temporal = loadTemporalSettings();
  log = componentLog('worker', { worker_id: config.workerId });
  // The SDK's lines (its activities' failures among them) carry this worker's id too.
  installTemporalRuntime(temporal, log);
  const tracing = startTracing(loadTracingSettings(), 'durabox-worker', config.workerId);
  const worker = await startRuntimeWorker(config, temporal, { tracing });
  const line = startLine(worker.workerId, config.runtimes, worker.temporal);
  log.info(line.fields, line.msg);
  onShutdownSignal(log, async () => {
    await worker.shutdown();
    // Last, so the spans of the activities that just ended still go out.
    await tracing?.shutdown();
  });
  worker.done.catch(async (e) => {
    log.fatal(errorFields(e), 'the runtime worker stopped on an error');
    await tracing?.shutdown();
    process.exit(1);
  });
} catch (e) {
  exitStartFailed(log, e);
}
