// Connecting to Temporal, and making the namespace ready for durabox: retention and search attributes.
import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, type TLSConfig } from '@temporalio/worker';
import proto from '@temporalio/proto';

const { temporal } = proto;
import type { PayloadKeys, TemporalSettings } from '../config/index.js';
import { dataConverterOf } from './codec.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import type { Tracing } from '../telemetry/tracing.js';
import { tracedClientInterceptors } from './tracing.js';

/** A worker that polls for activities only says so at WARN on every start; that is our design, not news. */
class QuietLogger extends DefaultLogger {
  override log(level: Parameters<DefaultLogger['log']>[0], message: string, meta?: Parameters<DefaultLogger['log']>[2]): void {
    if (/^No (workflows|activities|Nexus services) registered/.test(message)) return;
    super.log(level, message, meta);
  }
}

let runtimeInstalled = false;

/** The SDK's own log lines below warnings are noise for operators; DURABOX_TEMPORAL_LOG_LEVEL raises them. */
function installRuntime(config: TemporalSettings): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new QuietLogger(config.sdkLogLevel) });
}

/** Connects with TEMPORAL_TLS_* from the settings, unless the caller brings its own address and TLS (a host behind the gateway). */
export async function connectTemporal(config: TemporalSettings, address = config.address ?? '127.0.0.1:7233', tls?: TLSConfig): Promise<NativeConnection> {
  installRuntime(config);
  const t = config.tls;
  return NativeConnection.connect({
    address,
    tls: tls ?? (t
      ? {
          serverRootCACertificate: t.ca ? readFileSync(t.ca) : undefined,
          clientCertPair: t.cert && t.key ? { crt: readFileSync(t.cert), key: readFileSync(t.key) } : undefined,
          serverNameOverride: t.serverName,
        }
      : undefined),
  });
}

/** One connection serves the client and the control worker, which lets workflow starts be eager. */
export function temporalClient(connection: NativeConnection, config: TemporalSettings, keys?: PayloadKeys, tracing?: Tracing): Client {
  return new Client({ connection, namespace: config.namespace, dataConverter: dataConverterOf(keys), interceptors: tracedClientInterceptors(tracing) });
}

/**
 * Creates the namespace when missing, sets its retention (how long finished tasks stay readable) and
 * registers durabox's search attributes. Safe to call at every start.
 */
export async function prepareNamespace(connection: NativeConnection, config: TemporalSettings): Promise<void> {
  const namespace = config.namespace;
  const retention = msToTs(config.retentionDays * 86_400_000);
  try {
    const ns = await connection.workflowService.describeNamespace({ namespace });
    const current = Number(ns.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
    if (current !== config.retentionDays * 86400) {
      await connection.workflowService.updateNamespace({ namespace, config: { workflowExecutionRetentionTtl: retention } });
    }
  } catch (e) {
    if ((e as { code?: number }).code !== 5 /* NOT_FOUND */) throw e;
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: retention });
  }
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  }
}
