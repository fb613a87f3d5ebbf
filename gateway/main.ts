// Entry point of the host gateway: `npm run gateway`. It runs beside Temporal, on the control plane's
// network; execution hosts reach Temporal only through it (see host-gateway.ts).
import { ConfigError, loadGatewaySettings } from '../config/index.js';
import { exitStartFailed, logUnexpectedErrors, onShutdownSignal } from '../config/lifecycle.js';
import { componentLog } from '../config/log.js';
import { openDb } from '../db/index.js';
import { WorkerStore } from '../db/workers.js';
import { HostCa } from '../temporal/certs.js';
import { startHostGateway } from './host-gateway.js';

const log = componentLog('gateway');
logUnexpectedErrors(log);
try {
  const settings = loadGatewaySettings();
  if (!settings.databaseUrl) {
    throw new ConfigError('the host gateway reads host credentials from the platform database: set DATABASE_URL (the embedded database serves one process only)');
  }
  const db = await openDb({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir });
  const workers = new WorkerStore(db);
  const ca = await HostCa.load(settings.hostCa);
  const gateway = await startHostGateway(settings, ca, (id) => workers.secretHashOf(id));
  log.info({ address: gateway.address, temporal: settings.temporalAddress, namespace: settings.namespace },
    `durabox host gateway ${gateway.address} -> Temporal ${settings.temporalAddress} (namespace ${settings.namespace})`);
  onShutdownSignal(log, async () => {
    await gateway.close();
    await db.destroy();
  });
} catch (e) {
  exitStartFailed(log, e);
}
