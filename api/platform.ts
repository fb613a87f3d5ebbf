// The control plane served over HTTP: `npm run api` runs just this; `npm start` runs it beside a dev
// server and a worker; the test harness starts it in its own process.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { NativeConnection } from '@temporalio/worker';
import type { ApiSettings, TemporalSettings } from '../config/index.js';
import { startControlPlane, type FirstAdmin } from '../control/plane.js';
import { createApp, type AppOptions } from './app.js';
import type { AppDeps } from './context.js';
import { LoginLimiter } from './login-limiter.js';
import { CdpBridge, streamUpgrades } from './streams.js';
import type { Tracing } from '../telemetry/tracing.js';

export interface ApiPlatform {
  url: string;
  deps: AppDeps;
  /** Set when this start created the first admin (a generated password is in its file, never in the log). */
  firstAdmin?: FirstAdmin;
  close(): Promise<void>;
}

export async function startApiPlatform(api: ApiSettings, temporal: TemporalSettings, opts: AppOptions & { connection?: NativeConnection; tracing?: Tracing } = {}): Promise<ApiPlatform> {
  // With DURABOX_TLS_CERT/_KEY the API serves HTTPS itself (the files are read at each start, so a renewed
  // pair is taken by a restart); otherwise plain HTTP, for loopback or behind a TLS-terminating proxy.
  const tls = api.https && { cert: readFileSync(api.https.cert), key: readFileSync(api.https.key) };
  const plane = await startControlPlane(api, temporal, { connection: opts.connection, tracing: opts.tracing });
  const deps: AppDeps = Object.assign(plane, { loginLimiter: new LoginLimiter() }) as AppDeps;
  const cdp = new CdpBridge(deps);
  deps.workbench = cdp;

  const handler = createApp(deps, opts).callback();
  const server: Server = tls ? createTlsServer(tls, handler) : createServer(handler);
  server.keepAliveTimeout = 65_000;
  // WebSockets to sessions' ports, terminals and browsers (api/streams.ts).
  server.on('upgrade', streamUpgrades(deps));
  // A host's full checkpoint (up to 4 GiB with the S3 store) streams through one request: give it as long
  // as the host's step that sends it may run (11 min), not Node's default 5 min for a whole request.
  server.requestTimeout = 11 * 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(api.httpPort, api.httpHost, resolve);
  }).catch(async (e) => {
    await plane.close();
    throw e;
  });
  const { port } = server.address() as AddressInfo;
  const host = api.httpHost === '0.0.0.0' || api.httpHost === '::' ? '127.0.0.1' : api.httpHost;

  let closing: Promise<void> | undefined;
  return {
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    deps,
    firstAdmin: plane.firstAdmin,
    close() {
      closing ??= (async () => {
        await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
        cdp.close();
        await plane.close();
      })();
      return closing;
    },
  };
}
