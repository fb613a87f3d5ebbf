// Entry point of the control plane: `npm run api` (API + MCP + dashboard + control worker).
import { loadApiSettings, loadTemporalSettings, loadTracingSettings } from '../config/index.js';
import { onShutdownSignal } from '../config/lifecycle.js';
import { startTracing } from '../telemetry/tracing.js';
import { startApiPlatform } from './platform.js';

const tracing = startTracing(loadTracingSettings(), 'durabox-api');
const api = await startApiPlatform(loadApiSettings(), loadTemporalSettings(), { tracing });
console.log(`durabox API  ${api.url}/api/v1   MCP ${api.url}/mcp`);
if (tracing) console.log(`traces: OTLP as ${tracing.serviceName}`);
if (api.firstAdmin) {
  console.log(`first admin: ${api.firstAdmin.username}${api.firstAdmin.generated ? ` / ${api.firstAdmin.password} (generated, shown once)` : ' (password from DURABOX_ADMIN_PASSWORD)'}`);
}
onShutdownSignal(async () => {
  await api.close();
  // Last, so the spans of the requests and workflows that just ended still go out.
  await tracing?.shutdown();
});
