// E2B's control API (spec/openapi.yml of e2b-dev/E2B): sandboxes made, found, listed, timed, paused,
// resumed and killed. Every sandbox is a durabox session; its template name, metadata and variables are
// kept in the session's memo.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { DuraboxError } from '../../contract/errors.js';
import type { PeerMemo } from '../../control/session-service.js';
import { badEnvName, peerStringMap, sessionTemplateOf } from '../common.js';
import { E2bError, jsonBody } from './errors.js';
import { ENVD_VERSION, metadataFilter, signSandboxToken, stateFilter } from './protocol.js';

const DEFAULT_TEMPLATE = 'base';
/** E2B's default sandbox timeout, in seconds. */
const DEFAULT_TIMEOUT_SEC = 300;

const stringMap = peerStringMap;
const NewSandbox = z.object({
  templateID: z.string().min(1).max(200),
  timeout: z.int().min(1).optional(),
  metadata: stringMap.nullish(),
  envVars: stringMap.nullish(),
  autoPause: z.boolean().nullish(),
  secure: z.boolean().nullish(),
  allow_internet_access: z.boolean().nullish(),
  mcp: z.unknown().optional(),
  network: z.unknown().optional(),
  iam: z.unknown().optional(),
  autoPauseMemory: z.unknown().optional(),
  autoResume: z.unknown().optional(),
  volumeMounts: z.array(z.unknown()).optional(),
});
const Timeout = z.object({ timeout: z.int().min(0) });
const Connect = z.object({ timeout: z.int().min(1).optional(), memory: z.boolean().nullish() });

/** Who a control call is: the account, and the keyed hash of the API key it came with. */
export interface KeyCaller { accountId: string; keyHash: string }

export function controlApi(deps: AppDeps) {
  const bounds = deps.api.session;
  const leaseOf = (timeout: number | undefined, field = 'timeout') => {
    const sec = timeout ?? DEFAULT_TIMEOUT_SEC;
    if (sec < bounds.leaseMinSec || sec > bounds.leaseMaxSec) throw new E2bError(400, `${field}: must be between ${bounds.leaseMinSec} and ${bounds.leaseMaxSec} seconds`);
    return sec;
  };

  /**
   * The sandbox as create, connect and resume answer it: with the tokens its envd calls and its ports take,
   * bound to the account, the sandbox and the API key of this call (deleting the key closes them).
   */
  const created = (caller: KeyCaller, sandboxId: string, alias: string) => ({
    sandboxID: sandboxId,
    templateID: alias,
    alias,
    clientID: 'durabox',
    envdVersion: ENVD_VERSION,
    envdAccessToken: signSandboxToken(deps.hashKey, { a: caller.accountId, s: sandboxId, k: 'envd', h: caller.keyHash }),
    trafficAccessToken: signSandboxToken(deps.hashKey, { a: caller.accountId, s: sandboxId, k: 'traffic', h: caller.keyHash }),
    domain: deps.api.previewDomain ?? null,
  });

  /** A sandbox of the account as get and list answer it (404 when it has none of that id). */
  const detail = async (accountId: string, sandboxId: string) => {
    const known = await deps.sessions.peerOf(accountId, sandboxId).catch(() => undefined);
    const s = known ? await deps.sessions.get(accountId, sandboxId) : undefined;
    if (!known || !s || s.status === 'ended') throw new E2bError(404, `sandbox ${sandboxId} not found`);
    return view(sandboxId, known.peer, known.createdAt, s.lease_expires_unix_ms, s.status === 'paused');
  };

  const view = (sandboxId: string, peer: PeerMemo | undefined, createdAt: Date, leaseMs: number | null, paused: boolean) => ({
    sandboxID: sandboxId,
    templateID: peer?.alias ?? DEFAULT_TEMPLATE,
    alias: peer?.alias ?? DEFAULT_TEMPLATE,
    clientID: 'durabox',
    startedAt: createdAt.toISOString(),
    endAt: new Date(leaseMs ?? Date.now()).toISOString(),
    envdVersion: ENVD_VERSION,
    cpuCount: 1,
    memoryMB: 512,
    diskSizeMB: 0,
    state: paused ? 'paused' : 'running',
    metadata: peer?.metadata ?? {},
    domain: deps.api.previewDomain ?? null,
  });

  /** The sandbox's id from the path: the account must have a live session of that id. */
  const sandboxOf = async (accountId: string, id: string) => {
    const known = /^[A-Za-z0-9_-]{1,128}$/.test(id) ? await deps.sessions.peerOf(accountId, id).catch(() => undefined) : undefined;
    if (!known) throw new E2bError(404, `sandbox ${id} not found`);
    return known;
  };

  return {
    async create(ctx: Context, caller: KeyCaller) {
      const accountId = caller.accountId;
      const body = await jsonBody(ctx, NewSandbox);
      const alias = body.templateID;
      const lease = leaseOf(body.timeout);
      const peer: PeerMemo = { kind: 'e2b', alias, metadata: body.metadata ?? {}, envs: body.envVars ?? {} };
      const bad = badEnvName(peer.envs);
      if (bad !== undefined) throw new E2bError(400, `envVars: ${JSON.stringify(bad)} is not a variable name`);
      const template = sessionTemplateOf(alias);
      try {
        const s = await deps.sessions.create(accountId, { ...(template ? { template } : {}), lease_ttl_sec: lease, peer });
        ctx.status = 201;
        ctx.body = created(caller, s.session_id, alias);
      } catch (e) {
        if (e instanceof DuraboxError && (e.code === 'template_not_found' || e.code === 'invalid_input')) throw new E2bError(e.code === 'template_not_found' ? 404 : 400, `templateID: ${e.message}`);
        throw e;
      }
    },

    async get(ctx: Context, accountId: string, id: string) {
      ctx.body = await detail(accountId, id);
    },

    async list(ctx: Context, accountId: string, v2: boolean) {
      const states = v2 ? stateFilter(ctx.query.state as string | string[] | undefined) : new Set(['running']);
      const metadata = metadataFilter(typeof ctx.query.metadata === 'string' ? ctx.query.metadata : undefined);
      const limit = Math.min(1000, Math.max(1, Number(ctx.query.limit ?? 1000) || 1000));
      const running = await deps.sessions.running(accountId);
      ctx.body = running
        .filter((r) => r.peer?.kind === 'e2b')
        .filter((r) => states.has(r.paused ? 'paused' : 'running'))
        .filter((r) => Object.entries(metadata).every(([k, val]) => r.peer?.metadata[k] === val))
        .slice(0, limit)
        .map((r) => view(r.sessionId, r.peer, r.createdAt, r.leaseExpiresMs, r.paused));
    },

    async kill(ctx: Context, accountId: string, id: string) {
      await sandboxOf(accountId, id);
      await deps.sessions.close(accountId, id);
      ctx.status = 204;
    },

    async setTimeout(ctx: Context, accountId: string, id: string) {
      const body = await jsonBody(ctx, Timeout);
      await sandboxOf(accountId, id);
      await deps.sessions.setLease(accountId, id, leaseOf(body.timeout));
      ctx.status = 204;
    },

    async pause(ctx: Context, accountId: string, id: string) {
      await jsonBody(ctx, z.object({}).passthrough());
      await sandboxOf(accountId, id);
      const s = await deps.sessions.get(accountId, id);
      if (s?.status === 'paused') throw new E2bError(409, `sandbox ${id} is already paused`);
      await deps.sessions.pause(accountId, id);
      ctx.status = 204;
    },

    /** connect (v1, v2) and resume: a paused sandbox comes back; a timeout given sets its lease. */
    async connect(ctx: Context, caller: KeyCaller, id: string, resume: boolean) {
      const accountId = caller.accountId;
      const body = await jsonBody(ctx, Connect);
      const known = await sandboxOf(accountId, id);
      const s = await deps.sessions.get(accountId, id);
      if (resume && s?.status !== 'paused') throw new E2bError(409, `sandbox ${id} is not paused`);
      const wasPaused = s?.status === 'paused';
      if (wasPaused) await deps.sessions.resume(accountId, id);
      if (body.timeout !== undefined || resume) await deps.sessions.setLease(accountId, id, leaseOf(body.timeout));
      ctx.status = wasPaused ? 201 : 200;
      ctx.body = created(caller, id, known.peer?.alias ?? DEFAULT_TEMPLATE);
    },
  };
}
