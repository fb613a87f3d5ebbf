// The host gateway: the only way execution hosts reach Temporal. Temporal's open-source server gives any
// client the whole namespace (every history, every workflow); a host needs a handful of calls. The
// gateway ends TLS with each host's own certificate (issued by the API, bound to the host's credential),
// forwards those calls to Temporal and refuses every other one, and polls only on the queues that host
// serves. A host whose credential is deleted or replaced gets no new work within
// DURABOX_GATEWAY_RECHECK_SEC, may report what it already runs for DURABOX_GATEWAY_DRAIN_SEC, and is then cut off.
// A heartbeat or result names its activity attempt by the task token of the poll that started it: the
// gateway remembers which host each token went to and lets only that host report on it.
import http2, { constants as h2 } from 'node:http2';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import proto from '@temporalio/proto';
import type { GatewaySettings } from '../config/index.js';
import { componentLog } from '../config/log.js';
import { hostTaskQueue, runtimeTaskQueue } from '../contract/queues.js';
import { KNOWN_RUNTIMES } from '../config/index.js';
import { credentialMark, hostOfCertificate, type HostCa } from '../temporal/certs.js';
import { TaskTokenBindings, attemptTtlMs } from './task-tokens.js';

const { temporal } = proto;
const log = componentLog('gateway');
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

/** What a host whose credential was deleted may still do, for DURABOX_GATEWAY_DRAIN_SEC: finish what it runs. */
const DRAIN_CALLS = new Set(['RecordActivityTaskHeartbeat', 'RespondActivityTaskCompleted', 'RespondActivityTaskFailed', 'RespondActivityTaskCanceled', 'ShutdownWorker'].map((m) => SERVICE + m));

const ws = temporal.api.workflowservice.v1;
/** What a report on an activity attempt carries, whichever of the four it is. */
interface Report { taskToken?: Uint8Array | null; identity?: string | null; namespace?: string | null }
/**
 * The calls that report on one activity attempt, named by its task token: only the host that polled the
 * token may make them. `ends`: the attempt is over once Temporal took it (the binding can go).
 */
type TokenCall = { decode: (m: Uint8Array) => Report; ends: boolean };
const TOKEN_CALLS = new Map<string, TokenCall>(Object.entries({
  RecordActivityTaskHeartbeat: { decode: (m) => ws.RecordActivityTaskHeartbeatRequest.decode(m), ends: false },
  RespondActivityTaskCompleted: { decode: (m) => ws.RespondActivityTaskCompletedRequest.decode(m), ends: true },
  RespondActivityTaskFailed: { decode: (m) => ws.RespondActivityTaskFailedRequest.decode(m), ends: true },
  RespondActivityTaskCanceled: { decode: (m) => ws.RespondActivityTaskCanceledRequest.decode(m), ends: true },
} satisfies Record<string, TokenCall>).map(([m, call]) => [SERVICE + m, call]));

const GRPC = { OK: 0, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNAUTHENTICATED: 16, UNAVAILABLE: 14 } as const;
/** A poll request is a few hundred bytes; anything near this is not one. */
const MAX_INSPECTED_BYTES = 64 * 1024;
/**
 * A report is read whole before it is forwarded (its token must be checked, and protobuf lets a later
 * copy of a field override an earlier one). Temporal refuses payloads over 2 MB (its blob size limit)
 * and gRPC messages over 4 MiB by default: a report larger than this would not be taken anyway.
 */
const MAX_REPORT_BYTES = 8 * 1024 * 1024;
/** What one host connection may have the gateway hold of reports being read, all its calls together. */
const MAX_HELD_BYTES_PER_HOST = 32 * 1024 * 1024;
/** A poll answer carries the activity's input and last heartbeat details (each at most 2 MB). */
const MAX_POLL_ANSWER_BYTES = 32 * 1024 * 1024;
/** On top of an attempt's timeouts: clocks differ a little, and a report may wait in the gateway. */
const TOKEN_GRACE_MS = 60_000;
/** An answer with no timeout at all (Temporal always sets start-to-close): a day. */
const TOKEN_FALLBACK_TTL_MS = 24 * 3600_000;

/** Is this host the one whose credential the certificate names? (An answer from the database.) */
export type CredentialLookup = (workerId: string) => Promise<string | undefined>;

export interface HostGateway {
  address: string;
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
        servername: settings.temporalTls.serverName,
      }
    : {};
  /** One host connection: whose it is, its own upstream connection, its polls, and whether it drains. */
  interface Link {
    workerId: string;
    mark: string;
    ready: Promise<boolean>;
    upstream?: http2.ClientHttp2Session;
    polls: Set<http2.ServerHttp2Stream>;
    /** Bytes of reports being read (see MAX_HELD_BYTES_PER_HOST). */
    held: { bytes: number };
    /** Set when its credential went away: no new work; what runs may still report until the drain ends. */
    drainingSince?: number;
  }
  const links = new Map<http2.Http2Session, Link>();
  const tokens = new TaskTokenBindings(settings.maxTaskTokens);

  /** A refused call is worth an operator's look: a host asking for more than it needs. */
  const denied = (workerId: string, stream: http2.ServerHttp2Stream, why: string) => {
    log.warn({ worker_id: workerId, reason: why }, `host gateway: refused a call from host ${workerId}: ${why}`);
    refuse(stream, GRPC.PERMISSION_DENIED, why);
  };

  /** The credential still stands, and it is the one the certificate was issued under. */
  const stillValid = async (link: Link) => {
    const hash = await secretHashOf(link.workerId);
    return hash !== undefined && credentialMark(hash) === link.mark;
  };

  /** Its credential is gone: polls end now, reports of running work pass for the drain, then the link is cut. */
  const revoke = (session: http2.Http2Session, link: Link) => {
    if (link.drainingSince !== undefined) return;
    link.drainingSince = Date.now();
    for (const poll of link.polls) refuse(poll, GRPC.UNAUTHENTICATED, 'this host\'s credential was deleted');
    log.warn({ worker_id: link.workerId, drain_sec: settings.drainSec }, `host gateway: host ${link.workerId} lost its credential: no new work; cut off in ${settings.drainSec} s`);
    setTimeout(() => session.destroy(), settings.drainSec * 1000).unref();
  };

  // Calls are small frames answered at once: Nagle's algorithm would hold them back for ACKs.
  server.on('secureConnection', (socket: TLSSocket) => socket.setNoDelay(true));

  server.on('session', (session) => {
    const host = hostOfCertificate((session.socket as TLSSocket).getPeerCertificate()?.subject as never);
    if (!host) return void session.destroy();
    const link: Link = { ...host, ready: Promise.resolve(false), polls: new Set(), held: { bytes: 0 } };
    link.ready = stillValid(link).catch(() => false);
    links.set(session, link);
    session.on('close', () => {
      link.upstream?.destroy();
      links.delete(session);
    });
    session.on('error', () => undefined);
    void link.ready.then((ok) => {
      if (ok) log.info({ worker_id: host.workerId }, `host gateway: host ${host.workerId} connected`);
      else log.warn({ worker_id: host.workerId }, `host gateway: refused host ${host.workerId}: its certificate names a credential that no longer exists`);
    });
  });

  /** One upstream connection per host connection: cutting the host cuts its calls in flight too. */
  const upstreamOf = (link: Link) => {
    if (!link.upstream || link.upstream.closed || link.upstream.destroyed) {
      const upstream = http2.connect(upstreamUrl, { ...upstreamTls, maxSessionMemory: 64 });
      upstream.on('error', () => undefined);
      link.upstream = upstream;
    }
    return link.upstream;
  };

  server.on('stream', (stream, headers) => {
    const link = links.get(stream.session!);
    const path = String(headers[':path'] ?? '');
    stream.on('error', () => undefined);
    if (!link) return refuse(stream, GRPC.UNAUTHENTICATED, 'no host certificate');
    void (async () => {
      if (!(await link.ready)) return refuse(stream, GRPC.UNAUTHENTICATED, 'this host certificate names a credential that no longer exists');
      if (link.drainingSince !== undefined && !DRAIN_CALLS.has(path)) {
        return refuse(stream, GRPC.UNAUTHENTICATED, 'this host\'s credential was deleted: only work already running may still report');
      }
      if (!HOST_CALLS.has(path)) return denied(link.workerId, stream, `${path.slice(path.lastIndexOf('/') + 1) || path} is not open to execution hosts`);
      if (path === SERVICE + 'PollActivityTaskQueue') {
        const body = await readAll(stream, MAX_INSPECTED_BYTES);
        const why = body ? pollRefusal(body, headers, link.workerId, settings.namespace) : 'the poll request is too large';
        if (why) return denied(link.workerId, stream, why);
        if (link.drainingSince !== undefined) return refuse(stream, GRPC.UNAUTHENTICATED, 'this host\'s credential was deleted');
        link.polls.add(stream);
        stream.once('close', () => link.polls.delete(stream));
        // The answer's task token is bound to this host before the host sees it.
        return forward(stream, headers, upstreamOf(link), body, { answer: (message, h) => bindPollAnswer(message, h, link.workerId, tokens) });
      }
      const call = TOKEN_CALLS.get(path);
      if (call) {
        const body = await readAll(stream, MAX_REPORT_BYTES, link.held);
        if (body === 'busy') return refuse(stream, GRPC.RESOURCE_EXHAUSTED, 'this host has too many reports in flight at once');
        const report = body ? decodeReport(body, headers, call.decode) : 'the report is too large';
        if (typeof report === 'string') return denied(link.workerId, stream, report);
        const why = reportRefusal(report, link.workerId, settings.namespace, tokens);
        if (why) return denied(link.workerId, stream, `${path.slice(SERVICE.length)}: ${why}`);
        const token = report.taskToken!;
        return forward(stream, headers, upstreamOf(link), body as Buffer, {
          // The attempt is over for Temporal: its token can report nothing more, by anyone.
          status: (code) => { if ((call.ends && code === GRPC.OK) || code === GRPC.NOT_FOUND) tokens.release(token); },
        });
      }
      forward(stream, headers, upstreamOf(link), undefined);
    })().catch(() => refuse(stream, GRPC.UNAVAILABLE, 'gateway error'));
  });
  server.on('sessionError', () => undefined);

  // Credentials are deleted through the API (any of its processes): every link is checked again now and then.
  const recheck = setInterval(() => {
    for (const [session, link] of links) {
      if (link.drainingSince !== undefined) continue;
      void link.ready.then(async (wasValid) => {
        if (wasValid && !(await stillValid(link))) revoke(session, link);
      }).catch(() => undefined);
    }
  }, settings.recheckSec * 1000);
  recheck.unref();
  // Tokens of attempts that timed out (their hosts never reported) go within a minute.
  const sweep = setInterval(() => tokens.sweep(), 60_000);
  sweep.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.listenPort, settings.listenHost, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `${['0.0.0.0', '::'].includes(settings.listenHost) ? '127.0.0.1' : settings.listenHost}:${port}`,
    async close() {
      clearInterval(recheck);
      clearInterval(sweep);
      for (const session of links.keys()) session.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Why a poll is refused: another namespace, a queue this host does not serve, or another host's name. */
export function pollRefusal(body: Buffer, headers: http2.IncomingHttpHeaders, workerId: string, namespace: string): string | undefined {
  let message: Buffer | undefined;
  try {
    message = grpcMessage(body, headers['grpc-encoding']);
  } catch {
    return 'the poll request does not inflate within its bound';
  }
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
function grpcMessage(body: Buffer, encoding: string | string[] | undefined, max = MAX_INSPECTED_BYTES): Buffer | undefined {
  if (body.length < 5) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return undefined;
  const message = body.subarray(5);
  if (body[0] === 0) return message;
  // Bounded like the compressed body: a small request must not inflate into a large one.
  return encoding === 'gzip' ? gunzipSync(message, { maxOutputLength: max }) : undefined;
}

/**
 * A request's body, or undefined past `max` bytes. With `held` (the host's running count), 'busy' when
 * the host's connection already has the gateway hold too much; what it held is counted until the call ends.
 */
async function readAll(stream: http2.ServerHttp2Stream, max: number): Promise<Buffer | undefined>;
async function readAll(stream: http2.ServerHttp2Stream, max: number, held: { bytes: number }): Promise<Buffer | undefined | 'busy'>;
async function readAll(stream: http2.ServerHttp2Stream, max: number, held?: { bytes: number }): Promise<Buffer | undefined | 'busy'> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (held) stream.once('close', () => { held.bytes -= size; });
  for await (const chunk of stream) {
    const n = (chunk as Buffer).length;
    if (size + n > max) return undefined;
    if (held && held.bytes + n > MAX_HELD_BYTES_PER_HOST) return 'busy';
    size += n;
    if (held) held.bytes += n;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A report's fields, or why it cannot be read. */
function decodeReport(body: Buffer, headers: http2.IncomingHttpHeaders, decode: (m: Uint8Array) => Report): Report | string {
  let message: Buffer | undefined;
  try {
    message = grpcMessage(body, headers['grpc-encoding'], MAX_REPORT_BYTES);
  } catch {
    return 'the report does not inflate within its bound';
  }
  if (!message) return 'the report is not one gRPC message';
  try {
    return decode(message);
  } catch {
    return 'the report does not decode';
  }
}

/** Why a report on an activity attempt is refused: another namespace, another host's name, or a token this host was not given. */
export function reportRefusal(report: Report, workerId: string, namespace: string, tokens: TaskTokenBindings): string | undefined {
  if (report.namespace !== namespace) return `namespace ${JSON.stringify(report.namespace ?? '')} is not open to execution hosts`;
  if (report.identity !== workerId) return `a host reports under its own id (${workerId}), not ${JSON.stringify(report.identity ?? '')}`;
  if (!report.taskToken?.length) return 'the report names no task token';
  // Unknown covers a token another gateway process handed out, or one from before this gateway started:
  // refused too, the attempt then times out and Temporal retries it.
  if (tokens.holderOf(report.taskToken) !== workerId) return `its task token was not handed to host ${workerId} by this gateway (another host's, forged, expired, or from before the gateway restarted)`;
  return undefined;
}

/** Binds the task token of a poll answer to the host that polled; a refusal when the answer cannot be read. */
export function bindPollAnswer(body: Buffer, headers: http2.IncomingHttpHeaders, workerId: string, tokens: TaskTokenBindings): string | undefined {
  // A poll that timed out with no task, or an error with no message, carries no token.
  if (body.length === 0) return undefined;
  let answer: proto.temporal.api.workflowservice.v1.PollActivityTaskQueueResponse;
  try {
    const message = grpcMessage(body, headers['grpc-encoding'], MAX_POLL_ANSWER_BYTES);
    if (!message) return 'the poll answer is not one gRPC message';
    answer = ws.PollActivityTaskQueueResponse.decode(message);
  } catch {
    return 'the poll answer does not decode';
  }
  if (answer.taskToken?.length) tokens.bind(answer.taskToken, workerId, attemptTtlMs(answer, Date.now(), TOKEN_GRACE_MS, TOKEN_FALLBACK_TTL_MS));
  return undefined;
}

/** A gRPC error as the whole answer (trailers-only). */
function refuse(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) return void stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
}

/** What a call's forwarding looks at: the answer's one message before the host gets it, and the call's status. */
interface ForwardHooks {
  /** Sees the whole answer body (held back until it came); a reason refuses the call instead. */
  answer?: (body: Buffer, headers: http2.IncomingHttpHeaders) => string | undefined;
  status?: (code: number) => void;
}

/** Passes one call through unchanged: headers, messages both ways, trailers, cancellation. */
function forward(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, upstream: http2.ClientHttp2Session, body: Buffer | undefined, hooks: ForwardHooks = {}): void {
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
  const statusOf = (h: http2.IncomingHttpHeaders | undefined) => (h?.['grpc-status'] === undefined ? undefined : Number(h['grpc-status']));
  up.on('response', (h) => {
    if (stream.destroyed || stream.closed || stream.headersSent) return;
    const answer = copyHeaders(h);
    trailersOnly = h['grpc-status'] !== undefined;
    if (trailersOnly) {
      const code = statusOf(h);
      if (code !== undefined) hooks.status?.(code);
      return void stream.respond(answer, { endStream: true });
    }
    if (!hooks.answer) {
      stream.respond(answer, { waitForTrailers: true });
      return void up.pipe(stream);
    }
    // Held back whole, looked at, then passed on: the host gets nothing the gateway did not see.
    const chunks: Buffer[] = [];
    let size = 0;
    up.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_POLL_ANSWER_BYTES) return void up.close(h2.NGHTTP2_CANCEL);
      chunks.push(chunk);
    });
    up.on('end', () => {
      if (stream.destroyed || stream.closed || size > MAX_POLL_ANSWER_BYTES) return;
      const whole = Buffer.concat(chunks);
      const why = hooks.answer!(whole, h);
      if (why) return refuse(stream, GRPC.UNAVAILABLE, `the gateway could not read Temporal's answer: ${why}`);
      stream.respond(answer, { waitForTrailers: true });
      stream.end(whole);
    });
  });
  up.on('trailers', (t) => {
    trailers = t;
    const code = statusOf(t);
    if (code !== undefined) hooks.status?.(code);
  });
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
