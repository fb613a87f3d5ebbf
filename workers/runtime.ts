// Entry point of an execution host: `npm run worker`. One per host; it serves DURABOX_RUNTIMES.
import { loadTemporalSettings, loadWorkerSettings } from '../config/index.js';
import { onShutdownSignal } from '../config/lifecycle.js';
import { startRuntimeWorker } from './runtime-worker.js';

const config = loadWorkerSettings();
const temporal = loadTemporalSettings();
const worker = await startRuntimeWorker(config, temporal);
console.log(`runtime worker ${worker.workerId} serving ${config.runtimes.join(', ')} on ${temporal.address ?? '127.0.0.1:7233'}`);
onShutdownSignal(() => worker.shutdown());
await worker.done;
