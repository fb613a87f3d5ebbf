// Entry point of the control plane: `npm run api` (API + MCP + dashboard + control worker).
import { loadApiSettings, loadTemporalSettings, loadTracingSettings } from '../config/index.js';
import { exitStartFailed, logUnexpectedErrors, onShutdownSignal } from '../config/lifecycle.js';
import { componentLog } from '../config/log.js';
import { startTracing } from '../telemetry/tracing.js';
import { startApiPlatform } from './platform.js';

const log = componentLog('api');
logUnexpectedErrors(log);
try {
  const tracing = startTracing(loadTracingSettings(), 'durabox-api');
  const api = await startApiPlatform(loadApiSettings(), loadTemporalSettings(), { tracing });
  log.info({ api: `${api.url}/api/v1`, mcp: `${api.url}/mcp` }, `durabox API ${api.url}/api/v1   MCP ${api.url}/mcp`);
  if (tracing) log.info({ service_name: tracing.serviceName }, `traces: OTLP as ${tracing.serviceName}`);
  if (api.firstAdmin) {
    // The password itself never goes to the log: it is in a file only this user reads.
    log.info({ username: api.firstAdmin.username, password_file: api.firstAdmin.passwordFile },
      api.firstAdmin.passwordFile ? `first admin ${api.firstAdmin.username}: generated password in ${api.firstAdmin.passwordFile}` : `first admin ${api.firstAdmin.username}: password from DURABOX_ADMIN_PASSWORD`);
  }
  onShutdownSignal(log, async () => {
    await api.close();
    // Last, so the spans of the requests and workflows that just ended still go out.
    await tracing?.shutdown();
  });
} catch (e) {
  exitStartFailed(log, e);
}
