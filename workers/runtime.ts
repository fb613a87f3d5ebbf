// Entry point of an execution host: `npm run worker`. One per host; it serves DURABOX_RUNTIMES.
import { loadConfig } from './config.js';
import { startRuntimeWorker } from './runtime-worker.js';
import { onShutdownSignal } from './lifecycle.js';

const config = loadConfig();
const worker = await startRuntimeWorker(config);
console.log(`runtime worker ${worker.workerId} serving ${config.runtimes.join(', ')} on ${config.temporalAddress ?? '127.0.0.1:7233'}`);
onShutdownSignal(() => worker.shutdown());
await worker.done;
