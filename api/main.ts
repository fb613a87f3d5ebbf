// Entry point of the control plane: `npm run api` (API + MCP + dashboard + control worker).
import { loadApiSettings, loadTemporalSettings } from '../config/index.js';
import { onShutdownSignal } from '../config/lifecycle.js';
import { startApiPlatform } from './platform.js';

const api = await startApiPlatform(loadApiSettings(), loadTemporalSettings());
console.log(`durabox API  ${api.url}/api/v1   MCP ${api.url}/mcp`);
if (api.firstAdmin) {
  console.log(`first admin: ${api.firstAdmin.username}${api.firstAdmin.generated ? ` / ${api.firstAdmin.password} (generated, shown once)` : ' (password from DURABOX_ADMIN_PASSWORD)'}`);
}
onShutdownSignal(() => api.close());
