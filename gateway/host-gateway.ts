// The host gateway: the only way execution hosts reach Temporal. Temporal's open-source server gives any
// client the whole namespace (every history, every workflow); a host needs a handful of calls. The
// gateway ends TLS with each host's own certificate (issued by the API, bound to the host's credential),
// forwards those calls to Temporal and refuses every other one, and polls only on the queues that host
// serves. A host whose credential is deleted is cut off within DURABOX_GATEWAY_RECHECK_SEC.
import http2, { constants as h2 } from 'node:http2';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import proto from '@temporalio/proto';
import type { GatewaySettings } from '../config/index.js';
import { hostTaskQueue, runtimeTaskQueue } from '../contract/queues.js';
import { KNOWN_RUNTIMES } from '../config/index.js';
import { credentialMark, hostOfCertificate, type HostCa } from './certs.js';

const { temporal } = proto;
const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService/';

/** What an activity-only worker calls. Everything else (histories, lists, starts, signals, queries) is refused. */
const HOST_CALLS = new Set([
  'GetSystemInfo',
  'DescribeNamespace',
  'PollActivityTaskQueue',
  'RecordActivityTaskHeartbeat',
  'RespondActivityTaskCompleted',
  'RespondActivityTaskFailed',
  'RespondActivityTaskCanceled',
  'ShutdownWorker',
  'RecordWorkerHeartbeat',
].map((m) => SERVICE + m));

const GRPC = { PERMISSION_DENIED: 7, UNAUTHENTICATED: 16, UNAVAILABLE: 14, INVALID_ARGUMENT: 3 } as const;
/** A poll request is a few hundred bytes; anything near this is not one. */
const MAX_INSPECTED_BYTES = 64 * 1024;

/** Is this host the one whose credential the certificate names? (An answer from the database.) */
export type CredentialLookup = (workerId: string) => Promise<string | undefined>;

export interface HostGateway {
  address: string;
  /** Calls forwarded and refused, per worker id (for tests and metrics). */
  counts: Map<string, { forwarded: number; refused: number }>;
  /** Cuts off a host now (its credential was deleted in this process). */
  revoke(workerId: string): void;
  close(): Promise<void>;
}

export async function startHostGateway(settings: GatewaySettings, ca: HostCa, secretHashOf: CredentialLookup): Promise<HostGateway> {
  const own = await ca.issueGateway();
  const server = http2.createSecureServer({
    key: own.keyPem,
    cert: own.certPem,
    ca: [ca.certPem],
    requestCert: true,
    rejectUnauthorized: true,
    allowHTTP1: false,
    minVersion: 'TLSv1.2',
    // Poll answers carry activity inputs up to Temporal's 2 MB payload limit, several at a time.
    maxSessionMemory: 64,
  });
  const upstreamUrl = `${settings.temporalTls ? 'https' : 'http'}://${settings.temporalAddress}`;
  const upstreamTls = settings.temporalTls
    ? {
        ca: settings.temporalTls.ca ? readFileSync(settings.temporalTls.ca) : undefined,
        cert: settings.temporalTls.cert ? readFileSync(settings.temporalTls.cert) : undefined,
        key: settings.temporalTls.key ? readFileSync(settings.temporalTls.key) : undefined,
      }
    : {};
  const hosts = new Map<string, Set<http2.ServerHttp2Session>>();
  const counts = new Map<string, { forwarded: number; refused: number }>();
  const count = (id: string) => counts.get(id) ?? counts.set(id, { forwarded: 0, refused: 0 }).get(id)!;

  /** A refused call is worth an operator's look: a host asking for more than it needs. */
  const denied = (workerId: string, stream: http2.ServerHttp2Stream, why: string) => {
    count(workerId).refused++;
    console.warn(`host gateway: refused a call from host ${workerId}: ${why}`);
    refuse(stream, GRPC.PERMISSION_DENIED, why);
  };

  const cut = (workerId: string) => {
    for (const s of hosts.get(workerId) ?? []) s.destroy();
    hosts.delete(workerId);
  };

  /** The credential still stands, and it is the one the certificate was issued under. */
  const stillValid = async (workerId: string, mark: string) => {
    const hash = await secretHashOf(workerId);
    return hash !== undefined && credentialMark(hash) === mark;
  };

  server.on('session', (session) => {
    const socket = session.socket as TLSSocket;
    const host = hostOfCertificate(socket.getPeerCertificate()?.subject as never);
    if (!host) return void session.destroy();
    const ready = stillValid(host.workerId, host.mark).catch(() => false);
    // One upstream connection per host connection: cutting the host cuts its calls in flight too.
    let upstream: http2.ClientHttp2Session | undefined;
    const upstreamFor = () => {
      if (!upstream || upstream.closed || upstream.destroyed) {
        upstream = http2.connect(upstreamUrl, { ...upstreamTls, maxSessionMemory: 64 });
        upstream.on('error', () => undefined);
      }
      return upstream;
    };
    session.on('close', () => {
      upstream?.destroy();
      hosts.get(host.workerId)?.delete(session);
    });
    session.on('error', () => undefined);
    void ready.then((ok) => {
      if (!ok || session.destroyed) return void console.warn(`host gateway: refused host ${host.workerId}: its certificate names a credential that no longer exists`);
      console.log(`host gateway: host ${host.workerId} connected`);
      (hosts.get(host.workerId) ?? hosts.set(host.workerId, new Set()).get(host.workerId)!).add(session);
    });
    (session as unknown as { durabox: unknown }).durabox = { host, ready, upstreamFor };
  });

  server.on('stream', (stream, headers) => {
    const { host, ready, upstreamFor } = (stream.session as unknown as { durabox: { host: { workerId: string; mark: string }; ready: Promise<boolean>; upstreamFor: () => http2.ClientHttp2Session } }).durabox;
    const path = String(headers[':path'] ?? '');
    stream.on('error', () => undefined);
    void (async () => {
      if (!(await ready)) return refuse(stream, GRPC.UNAUTHENTICATED, 'this host certificate names a credential that no longer exists');
      if (!HOST_CALLS.has(path)) return denied(host.workerId, stream, `${path.slice(path.lastIndexOf('/') + 1) || path} is not open to execution hosts`);
      let body: Buffer | undefined;
      if (path === SERVICE + 'PollActivityTaskQueue') {
        body = await readAll(stream, MAX_INSPECTED_BYTES);
        const why = body ? pollRefusal(body, headers, host.workerId, settings.namespace) : 'the poll request is too large';
        if (why) return denied(host.workerId, stream, why);
      }
      count(host.workerId).forwarded++;
      forward(stream, headers, upstreamFor(), body);
    })().catch(() => refuse(stream, GRPC.UNAVAILABLE, 'gateway error'));
  });
  server.on('sessionError', () => undefined);

  // Credentials deleted through another API process: every connected host is checked again now and then.
  const recheck = setInterval(() => {
    for (const [workerId, sessions] of hosts) {
      const first = sessions.values().next().value as http2.ServerHttp2Session | undefined;
      const mark = first ? (first as unknown as { durabox: { host: { mark: string } } }).durabox.host.mark : undefined;
      if (!mark) continue;
      void stillValid(workerId, mark).then((ok) => { if (!ok) cut(workerId); }, () => undefined);
    }
  }, settings.recheckSec * 1000);
  recheck.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.listenPort, settings.listenHost, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `${['0.0.0.0', '::'].includes(settings.listenHost) ? '127.0.0.1' : settings.listenHost}:${port}`,
    counts,
    revoke: cut,
    async close() {
      clearInterval(recheck);
      for (const id of [...hosts.keys()]) cut(id);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Why a poll is refused: another namespace, a queue this host does not serve, or another host's name. */
export function pollRefusal(body: Buffer, headers: http2.IncomingHttpHeaders, workerId: string, namespace: string): string | undefined {
  const message = grpcMessage(body, headers['grpc-encoding']);
  if (!message) return 'the poll request is not one gRPC message';
  let req: proto.temporal.api.workflowservice.v1.PollActivityTaskQueueRequest;
  try {
    req = temporal.api.workflowservice.v1.PollActivityTaskQueueRequest.decode(message);
  } catch {
    return 'the poll request does not decode';
  }
  if (req.namespace !== namespace) return `namespace ${JSON.stringify(req.namespace)} is not open to execution hosts`;
  const queue = req.taskQueue?.name ?? '';
  const shared = (KNOWN_RUNTIMES as readonly string[]).some((r) => runtimeTaskQueue(r) === queue);
  if (!shared && queue !== hostTaskQueue(workerId)) return `task queue ${JSON.stringify(queue)} is not served by host ${workerId}`;
  if (req.identity !== workerId) return `a host polls under its own id (${workerId}), not ${JSON.stringify(req.identity)}`;
  return undefined;
}

/** The one message of a unary gRPC request body (5-byte prefix: compressed flag, length). */
function grpcMessage(body: Buffer, encoding: string | string[] | undefined): Buffer | undefined {
  if (body.length < 5) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return undefined;
  const message = body.subarray(5);
  if (body[0] === 0) return message;
  return encoding === 'gzip' ? gunzipSync(message) : undefined;
}

async function readAll(stream: http2.ServerHttp2Stream, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > max) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A gRPC error as the whole answer (trailers-only). */
function refuse(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) return void stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
}

/** Passes one call through unchanged: headers, messages both ways, trailers, cancellation. */
function forward(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, upstream: http2.ClientHttp2Session, body: Buffer | undefined): void {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (k !== ':authority' && k !== ':scheme' && v !== undefined) out[k] = v;
  let up: http2.ClientHttp2Stream;
  try {
    up = upstream.request(out);
  } catch {
    return refuse(stream, GRPC.UNAVAILABLE, 'Temporal is not reachable from the gateway');
  }
  let trailers: http2.IncomingHttpHeaders | undefined;
  let trailersOnly = false;
  up.on('response', (h) => {
    if (stream.destroyed || stream.closed) return;
    const answer = copyHeaders(h);
    trailersOnly = h['grpc-status'] !== undefined;
    stream.respond(answer, trailersOnly ? { endStream: true } : { waitForTrailers: true });
    if (!trailersOnly) up.pipe(stream);
  });
  up.on('trailers', (t) => { trailers = t; });
  stream.on('wantTrailers', () => {
    stream.sendTrailers(trailers ? copyHeaders(trailers) : { 'grpc-status': String(GRPC.UNAVAILABLE), 'grpc-message': 'Temporal closed the call' });
  });
  up.on('error', () => refuse(stream, GRPC.UNAVAILABLE, 'Temporal is not reachable from the gateway'));
  up.on('close', () => {
    if (!stream.headersSent) refuse(stream, GRPC.UNAVAILABLE, 'Temporal closed the call');
    else if (up.rstCode !== undefined && up.rstCode !== h2.NGHTTP2_NO_ERROR && !stream.closed) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  });
  stream.on('close', () => {
    if (!up.closed) up.close(stream.rstCode && stream.rstCode !== h2.NGHTTP2_NO_ERROR ? stream.rstCode : h2.NGHTTP2_CANCEL);
  });
  if (body) up.end(body);
  else stream.pipe(up);
}

function copyHeaders(h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && (k === ':status' || !k.startsWith(':'))) out[k] = v;
  return out;
}
