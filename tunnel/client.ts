// The API's end of the tunnel: a byte stream into one session's container (a port on its localhost, its
// browser's DevTools endpoint, a terminal), opened through the host that holds the session now. Any API
// process can open one: the session's workflow says where its container is, the registry where its host
// listens, and the grant is signed with a key every API process derives alike.
import { connect, type Socket } from 'node:net';
import { DuraboxError, isErrorCode } from '../contract/errors.js';
import type { SessionService } from '../control/session-service.js';
import type { WorkerStore } from '../db/workers.js';
import { signTunnelGrant, tunnelKeys, TUNNEL_GRANT_TTL_MS, type TunnelKeys, type TunnelTarget } from './grants.js';
import { readLine } from './lines.js';
import { splitHostPort } from './host-server.js';

/** How long the API waits for the host's answer line: a port's service starting (up to a minute) is the slowest honest case. */
const ANSWER_WAIT_MS = 75_000;

/**
 * How long a session's place (host, container, host address) is reused without asking its workflow again.
 * A stale one costs nothing but a retry: the host refuses a container it no longer holds, and the stream
 * is opened again from a fresh answer. Asking per request would add a Temporal query to every request.
 */
const PLACEMENT_TTL_MS = 5_000;

interface Place { hostId: string; containerId: string; address: string; until: number }

export class TunnelClient {
  private readonly keys: TunnelKeys;
  private readonly places = new Map<string, Place>();

  constructor(hashKey: string, private readonly sessions: SessionService, private readonly workers: WorkerStore) {
    this.keys = tunnelKeys(hashKey);
  }

  /** The public half of the grant key, handed to hosts with every registry answer. */
  get publicKey(): string {
    return this.keys.publicKey;
  }

  /** A stream to `target` in the caller's session; its answer line is read, the rest is the stream. */
  async open(accountId: string, sessionId: string, target: Exclude<TunnelTarget, { ports: true }>): Promise<Socket> {
    return (await this.connect(accountId, sessionId, target)).socket;
  }

  /** The TCP ports something in the session listens on. */
  async ports(accountId: string, sessionId: string): Promise<number[]> {
    const { socket, answer } = await this.connect(accountId, sessionId, { ports: true });
    socket.destroy();
    return Array.isArray(answer.ports) ? answer.ports.filter((p): p is number => Number.isInteger(p)) : [];
  }

  private async connect(accountId: string, sessionId: string, target: TunnelTarget): Promise<{ socket: Socket; answer: Record<string, unknown> }> {
    const key = `${accountId}\0${sessionId}`;
    const cached = this.places.get(key);
    if (cached && cached.until > Date.now()) {
      try {
        return await this.connectTo(cached, sessionId, target);
      } catch (e) {
        // The session may have moved, paused or ended since: ask again, once.
        this.places.delete(key);
        if (e instanceof DuraboxError && !MAY_BE_STALE.has(e.code)) throw e;
      }
    }
    const at = await this.sessions.placement(accountId, sessionId);
    const address = await this.workers.tunnelAddress(at.hostId);
    if (!address) throw new DuraboxError('host_unreachable', `the host holding session ${sessionId} (${at.hostId}) has no tunnel address: it is offline, or runs a version without the workbench`);
    const place = { ...at, address, until: Date.now() + PLACEMENT_TTL_MS };
    const opened = await this.connectTo(place, sessionId, target);
    if (this.places.size >= 10_000) this.places.delete(this.places.keys().next().value!);
    this.places.set(key, place);
    return opened;
  }

  private async connectTo(at: Omit<Place, 'until'>, sessionId: string, target: TunnelTarget): Promise<{ socket: Socket; answer: Record<string, unknown> }> {
    const address = at.address;
    const grant = signTunnelGrant(this.keys.privateKey, { c: at.containerId, h: at.hostId, t: target, x: Date.now() + TUNNEL_GRANT_TTL_MS });
    const { host, port } = splitHostPort(address);
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
    } catch (e) {
      socket.destroy();
      throw new DuraboxError('host_unreachable', `the host holding session ${sessionId} does not answer at ${address} (${(e as Error).message})`);
    }
    socket.write(`${JSON.stringify({ grant })}\n`);
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(await readLine(socket, 64 * 1024, ANSWER_WAIT_MS)) as Record<string, unknown>;
    } catch (e) {
      socket.destroy();
      throw new DuraboxError('host_unreachable', `the host holding session ${sessionId} did not open the stream: ${(e as Error).message}`);
    }
    if (answer.ok === true) return { socket, answer };
    socket.destroy();
    throw refusal(String(answer.error ?? ''), String(answer.message ?? 'the host refused the stream'));
  }
}

/** Failures a stale place may cause (the container or host changed): asked again before they are answered. */
const MAY_BE_STALE = new Set(['host_unreachable', 'session_busy', 'relay_unavailable', 'internal']);

/** A host's refusal as the API answers it. */
function refusal(code: string, message: string): DuraboxError {
  switch (code) {
    case 'relay_timeout': return new DuraboxError('timeout', message);
    case 'session_gone': return new DuraboxError('session_busy', `${message}: the session is moving; try again`);
    case 'too_many_streams': return new DuraboxError('rate_limited', message);
    case 'invalid_port': return new DuraboxError('invalid_input', message);
    case 'forbidden': case 'bad_request': case 'relay_failed': return new DuraboxError('internal', `the host refused the stream: ${message}`);
    default: return isErrorCode(code) ? new DuraboxError(code, message) : new DuraboxError('internal', message);
  }
}
