// Entry point of the control plane: `npm run api` (API + MCP + control worker).
import { loadConfig } from '../workers/config.js';
import { onShutdownSignal } from '../workers/lifecycle.js';
import { startApiPlatform } from './platform.js';

const config = loadConfig();
const api = await startApiPlatform(config);
console.log(`durabox API  ${api.url}/api/v1   MCP ${api.url}/mcp`);
if (api.firstAdmin) {
  console.log(`first admin: ${api.firstAdmin.username}${api.firstAdmin.generated ? ` / ${api.firstAdmin.password} (generated, shown once)` : ' (password from DURABOX_ADMIN_PASSWORD)'}`);
}
onShutdownSignal(() => api.close());
