// Connecting to Temporal, and making the namespace ready for durabox: retention and search attributes.
import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { NativeConnection, Runtime, type TLSConfig } from '@temporalio/worker';
import proto from '@temporalio/proto';

const { temporal } = proto;
import type { PayloadKeys, TemporalSettings } from '../config/index.js';
import { componentLog, type Logger } from '../config/log.js';
import { dataConverterOf } from './codec.js';
import { SdkLogForwarder } from './sdk-log.js';
import { SEARCH_ATTRIBUTES } from '../contract/search-attributes.js';
import type { Tracing } from '../telemetry/tracing.js';
import { tracedClientInterceptors } from './tracing.js';

let runtimeInstalled = false;

/**
 * Routes the SDK's lines, Core's included, into this process's JSON log, at DURABOX_TEMPORAL_LOG_LEVEL
 * (its lines below warnings are noise for operators). Once per process; an entry point that knows more
 * (a runtime worker's id) installs it first with its own logger, else the first connection does.
 */
export function installTemporalRuntime(config: TemporalSettings, log: Logger = componentLog('temporal')): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: new SdkLogForwarder(log, config.sdkLogLevel),
    telemetryOptions: { logging: { filter: { core: config.sdkLogLevel, other: 'ERROR' }, forward: {} } },
  });
}

/** Connects with TEMPORAL_TLS_* from the settings, unless the caller brings its own address and TLS (a host behind the gateway). */
export async function connectTemporal(config: TemporalSettings, address = config.address ?? '127.0.0.1:7233', tls?: TLSConfig): Promise<NativeConnection> {
  installTemporalRuntime(config);
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
