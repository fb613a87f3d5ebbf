// A runtime worker: the process on an execution host that owns its Docker daemon's sandboxes and polls
// one Temporal task queue per runtime it serves.
import Docker from 'dockerode';
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { TemporalSettings, WorkerSettings } from '../config/index.js';
import { hostTaskQueue, runtimeTaskQueue } from '../contract/queues.js';
import { createActivities } from '../activities/runtime.js';
import { createHostActivities, createSessionStartActivities, hostCheckpoints, type TerminalDeps } from '../activities/terminal.js';
import { removeLeftovers } from '../sandbox/leftovers.js';
import { pid1RuntimeOf } from '../sandbox/pid1-runtime.js';
import { LABEL_RUNTIME, LABEL_WORKER } from '../sandbox/profile.js';
import { PythonSandboxPool } from '../sandbox/python-pool.js';
import { SessionContainers } from '../sandbox/session-containers.js';
import { Egress } from '../sandbox/egress.js';
import { TemplateImages, TemplatePools } from '../sandbox/template-images.js';
import { createTemplateActivities, type TemplateActivityDeps } from '../activities/templates.js';
import { connectTemporal } from '../temporal/connection.js';
import { GATEWAY_SERVER_NAME } from '../temporal/certs.js';
import { dataConverterOf } from '../temporal/codec.js';
import { tracedWorkerOptions } from '../temporal/tracing.js';
import type { Tracing } from '../telemetry/tracing.js';
import { OutputPublisher } from '../activities/output-publisher.js';
import { componentLog, errorFields, type Logger } from '../config/log.js';
import { RegistryClient } from './registry-client.js';
import { LABEL_RELAY, Relays } from '../tunnel/relay.js';
import { TunnelServer } from '../tunnel/host-server.js';

/** Where this host's Temporal connection really goes: the host gateway the API named, or TEMPORAL_ADDRESS. */
export interface TemporalRoute { address: string; via: 'gateway' | 'direct' }

export function temporalRouteOf(temporal: TemporalSettings, gatewayAddress: string | undefined): TemporalRoute {
  return gatewayAddress ? { address: gatewayAddress, via: 'gateway' } : { address: temporal.address ?? '127.0.0.1:7233', via: 'direct' };
}

/** The worker's start line: what it serves, and the Temporal address it really connects to (not TEMPORAL_ADDRESS behind a gateway). */
export function startLine(workerId: string, runtimes: readonly string[], route: TemporalRoute): { fields: Record<string, unknown>; msg: string } {
  const through = route.via === 'gateway' ? ' through the host gateway' : '';
  return {
    fields: { runtimes, temporal: route.address, temporal_via: route.via },
    msg: `runtime worker ${workerId} serving ${runtimes.join(', ')} on ${route.address}${through}`,
  };
}

export interface RuntimeWorker {
  workerId: string;
  /** The Temporal this worker reaches, as its start line names it. */
  temporal: TemporalRoute;
  inflight: Map<string, number>;
  /** Resolves when every Temporal worker has stopped (after shutdown, or on a fatal error). */
  done: Promise<void>;
  /** Stops taking work, drains, removes its python sandboxes; session containers stay unless told. */
  shutdown(opts?: { removeSessions?: boolean }): Promise<void>;
}

export interface RuntimeWorkerOptions {
  /** A connection to share (else the worker connects, through the host gateway when the API names one). */
  connection?: NativeConnection;
  /** This process's tracing: each activity then runs in a span continuing the workflow's trace. */
  tracing?: Tracing;
}

export async function startRuntimeWorker(config: WorkerSettings, temporal: TemporalSettings, opts: RuntimeWorkerOptions = {}): Promise<RuntimeWorker> {
  const connection = opts.connection;
  const log = componentLog('worker', { worker_id: config.workerId });
  const docker = new Docker();
  // The workbench's streams into this host's sessions: listening before the start report, which names the address.
  const serves = config.runtimes.includes('terminal');
  const relays = serves ? new Relays({ root: config.tunnel.relayDir, workerId: config.workerId, docker, log }) : undefined;
  const tunnel = relays && new TunnelServer({ listen: config.tunnel.listen, advertise: config.tunnel.advertise, workerId: config.workerId, relays, log });
  const tunnelAddress = await tunnel?.start();
  // No credential the API accepts, no work: this throws before anything starts (spec §4.3).
  const registry = await RegistryClient.connect(config, { tunnelAddress }).catch((e) => {
    tunnel?.close();
    relays?.close();
    throw e;
  });
  if (tunnel) {
    tunnel.setKey(registry.tunnelKey);
    registry.onTunnelKey = (key) => tunnel.setKey(key);
  }
  await docker.ping();
  const ownsConnection = !connection;
  // Behind a host gateway, Temporal is reached only through it, with the certificate of this start.
  const gateway = registry.gateway;
  const conn = connection ?? (await connectTemporal(temporal, gateway?.address, gateway && {
    serverRootCACertificate: Buffer.from(gateway.ca),
    clientCertPair: { crt: Buffer.from(gateway.cert), key: Buffer.from(gateway.key) },
    serverNameOverride: GATEWAY_SERVER_NAME,
  }));
  const sessionIsLive = () => registry.liveSessions();
  const left = await removeLeftovers(docker, config.workerId, sessionIsLive);
  if (left.removed > 0) log.info({ removed: left.removed }, 'removed leftover containers');

  // Allow-list sandboxes' networks and their proxy: those of sessions kept across a restart get the new proxy.
  const egress = new Egress({
    docker,
    workerId: config.workerId,
    image: config.runtimes.includes('python') ? config.python.image : config.terminal.image,
    ...config.egress,
  });
  await egress.start();

  const inflight = new Map<string, number>();
  const output = new OutputPublisher((body) => registry.postOutput(body), log);
  // PID 1 of every sandbox runs on its base runtime's interpreter, never on one from a template's image.
  const pid1 = { python: pid1RuntimeOf(docker, config.python.image), terminal: pid1RuntimeOf(docker, config.terminal.image) };
  const sandboxOptions = { docker, workerId: config.workerId, maxUses: config.sandboxMaxUses, outputLimitBytes: config.outputLimitBytes, egress, pid1: pid1.python };
  const python = new PythonSandboxPool({ ...sandboxOptions, limits: config.python, warm: config.runtimes.includes('python') ? config.maxInflight : 0 });
  python.refill();
  // Account templates: builds reach the package indexes only, through the egress proxy, within limits.
  const images = new TemplateImages({
    docker,
    baseImages: { python: config.python.image, terminal: config.terminal.image },
    caFile: config.buildCaFile,
    egress,
    build: config.templateBuild,
    workerId: config.workerId,
  });
  const templatePools = new TemplatePools(images, { ...sandboxOptions, limits: config.python }, config.templatePoolsMax);
  const templateDeps = {
    images,
    imageWanted: async (image: string) => (await registry.templates()).some((r) => r.image === image),
    evictPools: (image: string) => templatePools.evict(image),
  };
  const containers = new SessionContainers({
    docker,
    workerId: config.workerId,
    limits: config.terminal,
    warm: config.runtimes.includes('terminal') ? config.maxInflight : 0,
    maxSessions: config.maxSessions,
    images,
    egress,
    pid1: pid1.terminal,
    relays,
  });
  containers.adopt(left.kept);
  if (relays) relays.sweep(await relayKeysOf(docker, config.workerId));
  containers.refill();
  const reaper = config.runtimes.includes('terminal') ? startReaper(docker, config, containers, sessionIsLive, log) : undefined;
  const terminalDeps: TerminalDeps = {
    docker,
    workerId: config.workerId,
    hostQueue: hostTaskQueue(config.workerId),
    containers,
    outputLimitBytes: config.outputLimitBytes,
    fileMaxBytes: config.fileMaxBytes,
    inflight,
    output,
    snapshots: registry,
    checkpointMaxBytes: config.checkpointMaxBytes,
    checkpoints: hostCheckpoints({ docker, containers, snapshots: registry, checkpointMaxBytes: config.checkpointMaxBytes }),
  };

  // One Temporal worker per queue: each runtime's shared queue, plus this host's own queue, where the
  // steps of the sessions it holds arrive. Those are short waits on `docker exec`, so they get more slots.
  const queues: Array<{ taskQueue: string; activities: object; slots: number }> = [];
  if (config.runtimes.includes('python')) {
    queues.push({ taskQueue: runtimeTaskQueue('python'), activities: createActivities({ python, inflight, output, templatePool: (ref) => templatePools.pool(ref) }), slots: config.maxInflight });
  }
  const terminal = config.runtimes.includes('terminal');
  if (terminal) queues.push({ taskQueue: runtimeTaskQueue('terminal'), activities: createSessionStartActivities(terminalDeps), slots: config.maxInflight });
  // This host's own queue: template builds, and the steps of the sessions it holds. A session runs one step
  // and one file call at a time, and the host holds at most maxSessions: with these slots every session's
  // step starts at once, whatever the other sessions (of any account) run.
  queues.push({
    taskQueue: terminalDeps.hostQueue,
    activities: { ...(terminal ? createHostActivities(terminalDeps) : {}), ...createTemplateActivities(templateDeps) },
    slots: terminal ? hostQueueSlots(config.maxSessions) : 4,
  });
  const workers = await Promise.all(
    queues.map((q) =>
      Worker.create({
        connection: conn,
        namespace: temporal.namespace,
        taskQueue: q.taskQueue,
        identity: config.workerId,
        activities: q.activities,
        // Inputs and results are sealed with the API's payload keys, handed over with the start report.
        dataConverter: dataConverterOf(registry.payloadKeys),
        maxConcurrentActivityTaskExecutions: q.slots,
        // Long-running sandboxes report through heartbeats; let the SDK send them promptly.
        defaultHeartbeatThrottleInterval: '500ms',
        shutdownGraceTime: '10s',
        ...tracedWorkerOptions(opts.tracing, { workflows: false }),
      }),
    ),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  // The templates this host lacks are built beside its work, not before it: a slow build delays no task
  // but its own template's (a task of a template not built here yet waits for that build, as it would anyway).
  const background = new AbortController();
  const catchingUp = catchUpTemplates(images, registry, templateDeps, background.signal, log)
    .catch((e: Error) => log.error(errorFields(e), 'catching up on account templates failed'));

  let stopping: Promise<void> | undefined;
  const worker: RuntimeWorker = {
    workerId: config.workerId,
    // A connection handed in is the caller's: it went wherever TEMPORAL_ADDRESS says.
    temporal: temporalRouteOf(temporal, connection ? undefined : gateway?.address),
    inflight,
    done,
    shutdown(opts = {}) {
      stopping ??= (async () => {
        if (reaper) clearInterval(reaper);
        background.abort();
        images.close();
        await catchingUp;
        await registry.close();
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await done.catch(() => undefined);
        await python.close();
        await templatePools.close();
        await containers.close();
        tunnel?.close();
        relays?.close();
        await egress.close();
        await removeLeftovers(docker, config.workerId, opts.removeSessions ? undefined : sessionIsLive);
        await egress.sweep().catch((e: Error) => log.warn(errorFields(e), 'egress: cannot remove unused networks'));
        if (ownsConnection) await conn.close();
      })();
      return stopping;
    },
  };
  // A deleted credential: the next heartbeat is refused; stop polling and drain what runs. This id
  // cannot come back, so its session containers go too.
  registry.startHeartbeats(inflight, (e) => {
    log.warn({ reason: e.message }, `${e.message}: stopping`);
    void worker.shutdown({ removeSessions: true });
  });
  return worker;
}

/**
 * Removes the images of templates deleted while this host was away, then builds the ready templates of
 * its runtimes that it lacks, one at a time, and reports each build to the API.
 */
async function catchUpTemplates(images: TemplateImages, registry: RegistryClient, deps: TemplateActivityDeps, signal: AbortSignal, log: Logger): Promise<void> {
  let refs;
  try {
    refs = await registry.templates();
  } catch (e) {
    // Its tasks still never run on a base image by mistake: a task's host builds a missing template first.
    log.warn(errorFields(e as Error), 'cannot list the account templates to build; building each when first used');
    return;
  }
  const live = new Set(refs.map((r) => r.image));
  for (const image of await images.images()) {
    if (!live.has(image)) await images.prune(image, deps.imageWanted, deps.evictPools).catch((e: Error) => log.warn({ image, ...errorFields(e) }, 'cannot remove the image of a deleted template'));
  }
  for (const ref of refs) {
    if (signal.aborted) return;
    const r = await images.ensure(ref, signal).catch(() => undefined);
    if (!r?.built) continue;
    log[r.ok ? 'info' : 'error']({ template: ref.name, image: ref.image, seconds: r.seconds, ...(r.ok ? {} : { log_tail: r.log.slice(-2000) }) }, r.ok ? 'built a template this host lacked' : 'a template this host lacked failed to build');
    await registry.templateBuilt(ref.image, r).catch((e: Error) => log.warn(errorFields(e), 'cannot report a template build'));
  }
}

/** The relay directories this host's containers still use (their labels name them). */
async function relayKeysOf(docker: Docker, workerId: string): Promise<Set<string>> {
  const found = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
  return new Set(found.map((c) => c.Labels?.[LABEL_RELAY]).filter((k): k is string => typeof k === 'string'));
}

/** Slots of a host's own queue: a step and a file call for each session it may hold, and the removals. */
export function hostQueueSlots(maxSessions: number): number {
  return 2 * maxSessions + 16;
}

/**
 * Every so often, removes the containers of sessions that ended without this host's help (lost, or a
 * removal that never reached it). A container is removed only when two sweeps in a row found no running
 * session naming it, so the instant between a session's runs (continue-as-new) never costs its container.
 */
function startReaper(docker: Docker, config: WorkerSettings, containers: SessionContainers, sessionIsLive: () => Promise<Set<string>>, log: Logger): NodeJS.Timeout {
  let suspects = new Set<string>();
  let sweeping = false;
  const sweep = async () => {
    const live = new Set([...(await sessionIsLive()), ...containers.spared()]);
    const found = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${config.workerId}`, `${LABEL_RUNTIME}=terminal`] } });
    const unclaimed = found.map((c) => c.Id).filter((id) => !live.has(id));
    // Only what this very list showed, unclaimed twice in a row: a container made since is never touched.
    const doomed = unclaimed.filter((id) => suspects.has(id));
    suspects = new Set(unclaimed.filter((id) => !suspects.has(id)));
    for (const id of doomed) await containers.remove(id).catch((e: Error) => log.error({ container: id, ...errorFields(e) }, 'session reaper: cannot remove a container'));
    if (doomed.length > 0) log.info({ removed: doomed.length }, 'session reaper: removed containers of ended sessions');
  };
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep().catch((e: Error) => log.error(errorFields(e), 'session reaper failed')).finally(() => { sweeping = false; });
  }, config.reapIntervalSec * 1000);
  timer.unref();
  return timer;
}
