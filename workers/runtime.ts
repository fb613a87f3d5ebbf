// Entry point of an execution host: `npm run worker`. One per host; it serves DURABOX_RUNTIMES.
import { loadTemporalSettings, loadTracingSettings, loadWorkerSettings } from '../config/index.js';
import { onShutdownSignal } from '../config/lifecycle.js';
import { startTracing } from '../telemetry/tracing.js';
import { startRuntimeWorker } from './runtime-worker.js';

const config = loadWorkerSettings();
const temporal = loadTemporalSettings();
const tracing = startTracing(loadTracingSettings(), 'durabox-worker', config.workerId);
const worker = await startRuntimeWorker(config, temporal, { tracing });
console.log(`runtime worker ${worker.workerId} serving ${config.runtimes.join(', ')} on ${temporal.address ?? '127.0.0.1:7233'}`);
onShutdownSignal(async () => {
  await worker.shutdown();
  await tracing?.shutdown();
});
await worker.done;
await tracing?.shutdown();
