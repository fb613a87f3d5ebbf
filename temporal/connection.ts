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
 * How long a namespace registered moments earlier may still be unknown to the server's other calls: the
 * server keeps a name it looked up and missed as "not found" for a while (a second on the dev server,
 * its cache refresh elsewhere), whoever registered it since, this process included.
 */
export const NAMESPACE_READY_MS = 30_000;

/**
 * Creates the namespace when missing, sets its retention (how long finished tasks stay readable) and
 * registers durabox's search attributes. Safe to call at every start, and moments after the namespace
 * was registered (here or by an operator): calls the server answers NotFound are tried again within
 * `readyWithinMs`, then it fails saying so.
 */
export async function prepareNamespace(connection: NativeConnection, config: TemporalSettings, readyWithinMs = NAMESPACE_READY_MS): Promise<void> {
  const namespace = config.namespace;
  const retention = msToTs(config.retentionDays * 86_400_000);
  const known = <T>(call: () => Promise<T>) => onceKnown(namespace, readyWithinMs, call);
  const ns = await connection.workflowService.describeNamespace({ namespace }).catch(async (e: { code?: number }) => {
    if (e.code !== GRPC_NOT_FOUND) throw e;
    // Another control plane starting beside this one may have registered it meanwhile: that is as good.
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: retention }).catch((r: { code?: number }) => {
      if (r.code !== GRPC_ALREADY_EXISTS) throw r;
    });
    return known(() => connection.workflowService.describeNamespace({ namespace }));
  });
  const current = Number(ns.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
  if (current !== config.retentionDays * 86400) {
    await known(() => connection.workflowService.updateNamespace({ namespace, config: { workflowExecutionRetentionTtl: retention } }));
  }
  const existing = await known(() => connection.operatorService.listSearchAttributes({ namespace }));
  const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (existing.customAttributes ?? {})));
  if (missing.length > 0) {
    await known(() => connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    }));
  }
}

const GRPC_ALREADY_EXISTS = 6;
const GRPC_NOT_FOUND = 5;

/** Runs `call` until the server stops answering NotFound for the namespace, for at most `withinMs`. */
async function onceKnown<T>(namespace: string, withinMs: number, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
    try {
      return await call();
    } catch (e) {
      if ((e as { code?: number }).code !== GRPC_NOT_FOUND) throw e;
      if (Date.now() + pause > deadline) {
        throw new Error(`Temporal namespace ${namespace} is registered but the server still answers "${(e as Error).message}" after ${withinMs} ms: check that TEMPORAL_NAMESPACE names it and that every frontend of the cluster sees it`, { cause: e });
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
