// A runtime worker's side of the host registry (spec §4.3). At start it reports itself with its
// credential (DURABOX_WORKER_ID + DURABOX_WORKER_SECRET) and refuses to start when the API rejects it;
// then it reports on a jittered heartbeat: runtimes, capacity, in-flight counts, labels, version. A
// refused heartbeat means the credential was deleted: the worker stops taking work. Its calls are the typed
// client's (client/), sent over this worker's own connections (its CA, keep-alive, timeouts and streams).
import { DuraboxClient, ROUTES, type Fetch, type Input, type OperationId, type Output } from '../client/index.js';
import { DuraboxError } from '../contract/errors.js';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { hostname } from 'node:os';
import { rootCertificates } from 'node:tls';
import type { PayloadKeys, WorkerSettings } from '../config/index.js';
import { PRODUCT_VERSION } from '../config/paths.js';
import { componentLog } from '../config/log.js';
import { createHostRequest } from '../temporal/certs.js';
import { BUILD_LOG_MAX_CHARS, type TemplateBuildResult, type TemplateRef } from '../contract/templates.js';
import { GRANT_HEADER } from '../contract/schemas.js';

export class CredentialRejected extends Error {}

/** The API's certificate is not one this worker trusts: retrying does not change that. */
export class ApiNotTrusted extends Error {}

/** Node's codes for a peer certificate that does not verify (unknown CA, wrong name, expired, …). */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A part the snapshot store took: its number in the chain and what it measured. */
export interface StoredPart { seq?: number; digest?: string; raw_bytes?: number; bytes?: number }

/** How long a worker keeps trying to reach the API at start (it may be starting too) before giving up. */
const START_PATIENCE_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;
/** A checkpoint moves up to DURABOX_SESSION_CHECKPOINT_MAX_BYTES (compressed, usually far less). */
const SNAPSHOT_TIMEOUT_MS = 120_000;

export class RegistryClient {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** The keys that seal Temporal payloads, as the API gave them with the start report (none: plain payloads). */
  payloadKeys: PayloadKeys | undefined;
  /**
   * Where and how this host reaches Temporal when the platform runs a host gateway: the gateway's address,
   * the certificate the API signed for this start and its key (made here, never sent), and the CA.
   */
  gateway: { address: string; cert: string; key: string; ca: string } | undefined;
  /** Where the API reaches this host's tunnel listener, reported with every heartbeat once it listens. */
  tunnelAddress: string | undefined;
  /** Told the API's tunnel grant key with every answer (it changes only with DURABOX_HASH_KEY). */
  onTunnelKey: ((key: string | undefined) => void) | undefined;

  /** The API's operations, with this worker's credential, over its own connections (see nodeFetch). */
  private readonly api: DuraboxClient;

  private constructor(private readonly config: WorkerSettings, secret: string) {
    // Kept-alive connections to the API; over HTTPS trusting the system's CAs and DURABOX_API_CA's.
    const fetch = new URL(config.apiUrl).protocol === 'https:'
      ? nodeFetch(new HttpsAgent({ keepAlive: true, ca: config.apiCa ? [...rootCertificates, readFileSync(config.apiCa, 'utf8')] : undefined }), httpsRequest)
      : nodeFetch(new HttpAgent({ keepAlive: true }), httpRequest);
    this.api = new DuraboxClient({ baseUrl: config.apiUrl, worker: { id: config.workerId, secret }, fetch });
  }

  /** Proves the credential with the start report; throws CredentialRejected when the API refuses it. */
  static async connect(config: WorkerSettings, opts: { tunnelAddress?: string } = {}): Promise<RegistryClient> {
    if (!config.workerSecret) {
      throw new CredentialRejected(
        `DURABOX_WORKER_SECRET is not set: a runtime worker needs a credential. Create one in the dashboard (Workers) or with POST ${config.apiUrl}/api/v1/workers, then start the worker with the command it shows.`,
      );
    }
    const client = new RegistryClient(config, config.workerSecret);
    client.tunnelAddress = opts.tunnelAddress;
    // A fresh key at every start: the API signs its certificate when hosts go through a host gateway.
    const request = await createHostRequest(config.workerId);
    const until = Date.now() + START_PATIENCE_MS;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        const ack = await client.report('start', new Map(), request.csr);
        client.payloadKeys = ack.payload_keys;
        client.gateway = ack.host_certificate && ack.temporal_address
          ? { address: ack.temporal_address, cert: ack.host_certificate.cert, key: request.keyPem, ca: ack.host_certificate.ca }
          : undefined;
        return client;
      } catch (e) {
        if (e instanceof CredentialRejected || Date.now() + delay > until) throw e;
        const code = (e as { code?: string }).code;
        if (code && UNTRUSTED_CERT_CODES.has(code)) {
          throw new ApiNotTrusted(`the API at ${config.apiUrl} presented a certificate this worker does not trust (${code}: ${(e as Error).message}); if it is signed by a private CA, give that CA's PEM file in DURABOX_API_CA`);
        }
        componentLog('worker', { worker_id: config.workerId }).warn({ reason: (e as Error).message, retry_ms: delay }, 'the registry (API) is not reachable yet; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /**
   * Reports every DURABOX_HEARTBEAT_INTERVAL_SEC (± DURABOX_HEARTBEAT_JITTER_PCT). A refused heartbeat calls
   * onRejected once; a failed one (API down) is logged and the worker goes on: Temporal, not the API,
   * gives it work.
   */
  startHeartbeats(inflight: ReadonlyMap<string, number>, onRejected: (e: CredentialRejected) => void): void {
    const schedule = () => {
      if (this.closed) return;
      const jitter = 1 + ((Math.random() * 2 - 1) * this.config.heartbeatJitterPct) / 100;
      this.timer = setTimeout(async () => {
        try {
          await this.report('heartbeat', inflight);
        } catch (e) {
          if (e instanceof CredentialRejected) {
            if (!this.closed) onRejected(e);
            this.closed = true;
            return;
          }
          componentLog('worker', { worker_id: this.config.workerId }).warn({ reason: (e as Error).message }, 'heartbeat to the API failed; working on');
        }
        schedule();
      }, this.config.heartbeatIntervalSec * 1000 * jitter);
    };
    schedule();
  }

  /** Stops the heartbeats and tells the API this worker is going away, so no new task counts on it. */
  async close(): Promise<void> {
    const wasOpen = !this.closed;
    this.closed = true;
    clearTimeout(this.timer);
    if (wasOpen) await this.json('registryGoodbye', {}).catch(() => undefined);
  }

  private async report(event: 'start' | 'heartbeat', inflight: ReadonlyMap<string, number>, csr?: string) {
    const ack = await this.json('registryHeartbeat', { body: {
      event,
      node_name: hostname(),
      executor_kind: 'docker',
      version: PRODUCT_VERSION,
      labels: { os: process.platform, arch: process.arch },
      capabilities: this.config.runtimes.map((name) => ({ name, max_inflight: this.config.maxInflight, inflight: inflight.get(name) ?? 0 })),
      heartbeat_interval_sec: this.config.heartbeatIntervalSec,
      heartbeat_jitter_pct: this.config.heartbeatJitterPct,
      ...(csr ? { csr } : {}),
      ...(this.tunnelAddress ? { tunnel_address: this.tunnelAddress } : {}),
    } });
    this.tunnelKey = ack.tunnel_key;
    this.onTunnelKey?.(ack.tunnel_key);
    return ack;
  }

  /** The API's tunnel grant key, from its latest answer. */
  tunnelKey: string | undefined;

  /** The containers of this host's running sessions, from the API (a host has no access to Temporal's visibility). */
  async liveSessions(): Promise<Set<string>> {
    return new Set((await this.json('registrySessions', {})).container_ids);
  }

  /** The ready account templates of the runtimes this host serves: it builds what it lacks before it serves. */
  async templates(): Promise<TemplateRef[]> {
    return (await this.json('registryTemplates', { query: { runtimes: this.config.runtimes.join(',') } })).items;
  }

  /** Reports this host's build of a template image (outside a build workflow: a host that came online later). */
  async templateBuilt(image: string, r: TemplateBuildResult): Promise<void> {
    await this.json('registryTemplateBuilt', { body: { image, ok: r.ok, seconds: r.seconds, log: r.log.slice(-BUILD_LOG_MAX_CHARS) } });
  }

  /** Forwards output chunks of running work (see OutputPublisher). */
  async postOutput(body: Input<'registryOutput'>['body']): Promise<void> {
    await this.json('registryOutput', { body });
  }

  /**
   * Stores a part of a session's workspace checkpoint (a gzipped tar) in the platform's snapshot store. A
   * stream goes as it is read (chunked): the store measures it, and answers its digest and size. A stream
   * that fails (its workspace outgrew the cap) breaks the request off, and nothing is stored.
   */
  async putSnapshot(q: { accountId: string; sessionId: string; digest?: string; grant: string; kind?: 'full' | 'delta' }, data: Buffer | Readable): Promise<StoredPart> {
    const query = { account_id: q.accountId, session_id: q.sessionId, ...(q.digest ? { digest: q.digest } : {}), ...(q.kind ? { kind: q.kind } : {}) };
    // A Buffer must go within the time; a stream may take longer, but not stall that long (see nodeFetch).
    const r = await this.exchange('registryPutSnapshot', { query, body: data, contentType: 'application/gzip' }, { timeoutMs: data instanceof Readable ? undefined : SNAPSHOT_TIMEOUT_MS, allowed: [409], grant: q.grant });
    refuseFenced(r);
    return JSON.parse(r.body.toString('utf8')) as StoredPart;
  }

  /** A session's checkpoint chain, claimed for the generation the grant names: older containers may no longer write to it. */
  async claimSnapshot(q: { accountId: string; sessionId: string; grant: string }): Promise<Array<{ seq: number; kind: 'full' | 'delta'; digest: string; raw_bytes: number; bytes: number }>> {
    const r = await this.exchange('registryClaimSnapshot', { query: { account_id: q.accountId, session_id: q.sessionId } }, { timeoutMs: REQUEST_TIMEOUT_MS, allowed: [409], grant: q.grant });
    refuseFenced(r);
    return (JSON.parse(r.body.toString('utf8')) as { parts: Array<{ seq: number; kind: 'full' | 'delta'; digest: string; raw_bytes: number; bytes: number }> }).parts;
  }

  /** One part of a session's checkpoint (`seq`), or its base; undefined when there is none. */
  async getSnapshot(q: { accountId: string; sessionId: string; grant: string; seq?: number }): Promise<{ data: Buffer; digest: string } | undefined> {
    const r = await this.exchange('registryGetSnapshot', { query: snapshotPart(q) }, { timeoutMs: SNAPSHOT_TIMEOUT_MS, allowed: [404], grant: q.grant });
    return r.status === 404 ? undefined : { data: r.body, digest: r.headers.get('x-snapshot-digest') ?? '' };
  }

  /** One part of a session's checkpoint as a stream, read as fast as its reader takes it; undefined when there is none. */
  async openSnapshot(q: { accountId: string; sessionId: string; grant: string; seq?: number }): Promise<{ body: Readable; digest: string } | undefined> {
    // No time limit of the whole: a stalled transfer (not a long one) is given up (see nodeFetch).
    const res = await this.api.send('registryGetSnapshot', { query: snapshotPart(q) }, { headers: { [GRANT_HEADER]: q.grant } });
    if (res.status === 200 && res.body) return { body: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), digest: res.headers.get('x-snapshot-digest') ?? '' };
    const text = await res.text();
    if (res.status === 404) return undefined;
    if (res.status === 401 || res.status === 403) throw new CredentialRejected(`the API at ${this.config.apiUrl} rejected the credential of worker ${this.config.workerId}: ${errorOf(text)}`);
    throw new Error(`/api/v1/registry/snapshots answered ${res.status}: ${errorOf(text)}`);
  }

  /** A JSON call of the registry within REQUEST_TIMEOUT_MS: its answer, or undefined for an empty one. */
  private async json<K extends OperationId>(id: K, input: Input<K>): Promise<Output<K>> {
    const r = await this.exchange(id, input, { timeoutMs: REQUEST_TIMEOUT_MS });
    const text = r.body.toString('utf8');
    return (text ? JSON.parse(text) : undefined) as Output<K>;
  }

  /**
   * One call to the API with this worker's credential; a refused credential is CredentialRejected, another
   * failure (a status not 2xx nor `allowed`) an Error naming the path.
   */
  private async exchange<K extends OperationId>(id: K, input: Input<K>, opts: { timeoutMs?: number; allowed?: number[]; grant?: string }): Promise<{ status: number; body: Buffer; headers: Headers }> {
    const res = await this.api.send(id, input, { timeoutMs: opts.timeoutMs, headers: opts.grant ? { [GRANT_HEADER]: opts.grant } : undefined });
    const body = Buffer.from(await res.arrayBuffer());
    if (res.status === 401 || res.status === 403) {
      throw new CredentialRejected(`the API at ${this.config.apiUrl} rejected the credential of worker ${this.config.workerId}: ${errorOf(body.toString('utf8'))}`);
    }
    if ((res.status < 200 || res.status >= 300) && !(opts.allowed ?? []).includes(res.status)) throw new Error(`${ROUTES[id][1]} answered ${res.status}: ${errorOf(body.toString('utf8'))}`);
    return { status: res.status, body, headers: res.headers };
  }
}

function snapshotPart(q: { accountId: string; sessionId: string; seq?: number }) {
  return { account_id: q.accountId, session_id: q.sessionId, ...(q.seq !== undefined ? { seq: q.seq } : {}) };
}

/** Answers that carry no body, whatever the connection says. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/**
 * The client's `fetch` over node:http(s) with this worker's agent (its CA and kept-alive connections).
 * A call with a signal (a time limit) ends with it; one without (a stream going up or coming down) is given
 * up when it stalls for SNAPSHOT_TIMEOUT_MS. A stream payload goes chunked as it is read; one that fails
 * breaks the request off (the API stores nothing of it) and its failure is the call's. Connection errors
 * keep their own codes (an untrusted certificate is told apart by them).
 */
function nodeFetch(agent: HttpAgent, send: typeof httpRequest): Fetch {
  return (url, init) => new Promise<Response>((resolve, reject) => {
    const payload = init.body as string | Uint8Array | Readable | null | undefined;
    const streamed = payload instanceof Readable;
    const signal = init.signal ?? undefined;
    const req = send(url, { method: init.method, agent, headers: init.headers as Record<string, string>, ...(signal ? { signal } : {}) }, (r: IncomingMessage) => {
      r.on('end', () => {
        // An answer before the whole stream went (fenced, refused): the rest would only be thrown away.
        if (streamed && !req.writableFinished) payload.destroy();
      });
      const headers = new Headers();
      for (const [name, value] of Object.entries(r.headers)) for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
      const status = r.statusCode ?? 0;
      if (NULL_BODY_STATUSES.has(status)) r.resume();
      resolve(new Response(NULL_BODY_STATUSES.has(status) ? null : (Readable.toWeb(r) as ReadableStream<Uint8Array>), { status, headers }));
    });
    req.on('error', reject);
    if (!signal) req.setTimeout(SNAPSHOT_TIMEOUT_MS, () => req.destroy(new Error(`${new URL(url).pathname}: the transfer stalled for ${SNAPSHOT_TIMEOUT_MS} ms`)));
    if (!streamed) {
      req.end(payload ?? undefined);
      return;
    }
    pipeline(payload, req).catch((e: Error) => {
      req.destroy(e);
      reject(e);
    });
  });
}

/** The store refused a write or claim from a container older than the session's chain: the session moved. */
function refuseFenced(r: { status: number; body: Buffer }): void {
  if (r.status === 409) throw new DuraboxError('fenced', errorOf(r.body.toString('utf8')));
}

function errorOf(text: string): string {
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return text.slice(0, 200);
  }
}
