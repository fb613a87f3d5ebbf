// OpenSandbox's lifecycle API (specs/sandbox-lifecycle.yml) on durabox sessions: create is a session with
// no command (answered once its container runs), pause/resume/renew are its updates, delete closes it.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { DuraboxError } from '../../contract/errors.js';
import { keyedHash } from '../../control/security.js';
import { signLink } from '../../tunnel/links.js';
import { peerStringMap, sessionTemplateOf } from '../common.js';
import { badRequest, notFound, unsupported, zodMessage } from './errors.js';
import { dispatch, jsonBody, noRoute, type Route } from './http.js';
import {
  badEnvName, EXECD_PORT, EXECD_TOKEN_HEADER, listed, pageOf, parseMetadataFilter, sandboxView, signExecdToken, stateOf,
} from './mapping.js';

/** How long a port's endpoint (a signed link) opens it: the longest a signed link may live. */
const PORT_LINK_SEC = 86_400;

const strings = peerStringMap;

const CreateBody = z.object({
  image: z.object({ uri: z.string().min(1).max(256), auth: z.unknown().optional() }).optional(),
  snapshotId: z.string().optional(),
  timeout: z.int().min(60).nullable().optional(),
  entrypoint: z.array(z.string()).optional(),
  env: strings.optional(),
  metadata: strings.optional(),
  resourceLimits: z.record(z.string(), z.string()).optional(),
  networkPolicy: z.unknown().optional(),
  credentialProxy: z.unknown().optional(),
  volumes: z.array(z.unknown()).optional(),
  extensions: z.record(z.string(), z.string()).optional(),
  secureAccess: z.boolean().optional(),
  platform: z.unknown().optional(),
});

const RenewBody = z.object({ expiresAt: z.iso.datetime({ offset: true }) });

const ListQuery = z.object({
  page: z.coerce.number().pipe(z.int().min(1)).default(1),
  pageSize: z.coerce.number().pipe(z.int().min(1).max(1000)).default(20),
});


export function lifecycleRoutes(deps: AppDeps): (ctx: Context, accountId: string, path: string) => Promise<void> {
  const routes: Array<Route<string>> = [
    ['POST', /^\/sandboxes$/, (ctx, a) => create(deps, ctx, a)],
    ['GET', /^\/sandboxes$/, (ctx, a) => list(deps, ctx, a)],
    ['GET', /^\/sandboxes\/([^/]+)$/, (ctx, a, [id]) => get(deps, ctx, a, id!)],
    ['DELETE', /^\/sandboxes\/([^/]+)$/, async (ctx, a, [id]) => { await onSandbox(id!, () => deps.sessions.close(a, id!)); ctx.status = 204; }],
    ['POST', /^\/sandboxes\/([^/]+)\/pause$/, async (ctx, a, [id]) => { await onSandbox(id!, () => deps.sessions.pause(a, id!)); accepted(ctx); }],
    ['POST', /^\/sandboxes\/([^/]+)\/resume$/, async (ctx, a, [id]) => { await onSandbox(id!, () => deps.sessions.resume(a, id!)); accepted(ctx); }],
    ['POST', /^\/sandboxes\/([^/]+)\/renew-expiration$/, (ctx, a, [id]) => renew(deps, ctx, a, id!)],
    ['GET', /^\/sandboxes\/([^/]+)\/endpoints\/([^/]+)$/, (ctx, a, [id, port]) => endpoint(deps, ctx, a, id!, port!)],
    ['PATCH', /^\/sandboxes\/([^/]+)\/metadata$/, () => { throw unsupported('changing a sandbox\'s metadata after its creation'); }],
    ['*', /^\/sandboxes\/([^/]+)\/snapshots$/, () => { throw unsupported('sandbox snapshots (use durabox\'s named snapshots)'); }],
    ['*', /^\/snapshots(\/.*)?$/, () => { throw unsupported('sandbox snapshots (use durabox\'s named snapshots)'); }],
    ['*', /^\/templates(\/.*)?$/, () => { throw unsupported('OpenSandbox templates (durabox templates are made with its own API)'); }],
    ['*', /^\/sandboxes\/([^/]+)\/(egress|network-policy|diagnostics)(\/.*)?$/, () => { throw unsupported('network policies and diagnostics of a sandbox'); }],
    // The SDKs report their create timings here, fire and forget: taken and dropped.
    ['POST', /^\/metrics\/events$/, async (ctx) => { ctx.status = 204; }],
  ];
  return async (ctx, accountId, path) => {
    const found = await dispatch(routes, ctx, accountId, path);
    if (found !== 'answered') noRoute(ctx, ctx.path, found);
  };
}

/** 202 with an empty body (Koa's default text would be read as JSON by the SDKs). */
function accepted(ctx: Context): void {
  ctx.body = '';
  ctx.status = 202;
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw badRequest(zodMessage(r.error));
  return r.data;
}

/** A call on one sandbox: durabox's "no session" is the reference's 404 naming the sandbox. */
async function onSandbox<T>(id: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof DuraboxError && e.code === 'session_not_found') throw notFound(id);
    throw e;
  }
}

async function create(deps: AppDeps, ctx: Context, accountId: string): Promise<void> {
  const body = parse(CreateBody, (await jsonBody(ctx)) ?? {});
  if (body.snapshotId !== undefined) throw unsupported('snapshotId (restoring an OpenSandbox snapshot)');
  if (!body.image) throw badRequest('image: required (a durabox template: terminal, python, or one of the account\'s)');
  if (body.volumes && body.volumes.length > 0) throw unsupported('volumes');
  if (body.networkPolicy !== undefined && body.networkPolicy !== null) throw unsupported('networkPolicy (durabox applies its own egress policy to every sandbox)');
  if (body.credentialProxy !== undefined && body.credentialProxy !== null) throw unsupported('credentialProxy');
  const bad = badEnvName(body.env ?? {});
  if (bad !== undefined) throw badRequest(`env: ${JSON.stringify(bad)} is not a valid environment variable name`);
  const s = deps.api.session;
  // No timeout (omitted or null) asks for no expiry: a durabox session lives at most its longest lease between calls.
  const ttl = body.timeout ?? s.leaseMaxSec;
  if (ttl < s.leaseMinSec || ttl > s.leaseMaxSec) {
    throw badRequest(`timeout: must be between ${s.leaseMinSec} and ${s.leaseMaxSec} seconds on this durabox (renew-expiration extends it later)`);
  }
  const uri = body.image.uri;
  const summary = await deps.sessions.create(accountId, {
    template: sessionTemplateOf(uri),
    lease_ttl_sec: ttl,
    peer: { kind: 'opensandbox', alias: uri, metadata: body.metadata ?? {}, envs: body.env ?? {} },
  }).catch((e: unknown) => { throw imageError(e, uri); });
  const view = sandboxView({ id: summary.session_id, state: stateOf(summary.status), createdAt: summary.created_at ?? new Date(), leaseExpiresMs: summary.lease_expires_unix_ms, peer: { kind: 'opensandbox', alias: uri, metadata: body.metadata ?? {}, envs: {} } });
  const { image: _image, ...created } = view;
  ctx.status = 202;
  ctx.set('Location', `${ctx.path}/${summary.session_id}`);
  ctx.body = { ...created, entrypoint: body.entrypoint ?? created.entrypoint };
}

/** A template durabox lacks (or cannot run a sandbox in) told as the image field. */
function imageError(e: unknown, uri: string): unknown {
  if (!(e instanceof DuraboxError)) return e;
  if (e.code === 'template_not_found') return badRequest(`image: durabox has no template ${JSON.stringify(uri)} (use terminal, python, or a template of the account)`);
  if (e.code === 'invalid_input' || e.code === 'template_not_ready') return badRequest(`image: ${e.message.replace(/^template: /, '')}`);
  return e;
}

async function get(deps: AppDeps, ctx: Context, accountId: string, id: string): Promise<void> {
  const found = await deps.sessions.peerOf(accountId, id);
  const summary = found ? await deps.sessions.get(accountId, id) : undefined;
  if (!found || !summary || summary.status === 'ended') throw notFound(id);
  ctx.body = sandboxView({ id, state: stateOf(summary.status), createdAt: found.createdAt, leaseExpiresMs: summary.lease_expires_unix_ms, ...(found.peer ? { peer: found.peer } : {}) });
}

async function list(deps: AppDeps, ctx: Context, accountId: string): Promise<void> {
  const q = parse(ListQuery, { page: ctx.query.page, pageSize: ctx.query.pageSize });
  const states = ([] as string[]).concat(ctx.query.state ?? []);
  const meta = parseMetadataFilter(typeof ctx.query.metadata === 'string' ? ctx.query.metadata : undefined);
  if ('bad' in meta) throw badRequest(`metadata: ${JSON.stringify(meta.bad)} is not key=value`);
  const all = (await deps.sessions.running(accountId)).filter((s) => listed(s, states, meta.filter));
  const items = all.map((s) => sandboxView({ id: s.sessionId, state: s.paused ? 'Paused' : 'Running', createdAt: s.createdAt, leaseExpiresMs: s.leaseExpiresMs, ...(s.peer ? { peer: s.peer } : {}) }));
  ctx.body = pageOf(items, q.page, q.pageSize);
}

async function renew(deps: AppDeps, ctx: Context, accountId: string, id: string): Promise<void> {
  const body = parse(RenewBody, await jsonBody(ctx));
  const ttl = Math.ceil((Date.parse(body.expiresAt) - Date.now()) / 1000);
  const s = deps.api.session;
  if (ttl <= 0) throw badRequest('expiresAt: must be in the future');
  if (ttl > s.leaseMaxSec) throw badRequest(`expiresAt: at most ${s.leaseMaxSec} seconds from now on this durabox`);
  const summary = await onSandbox(id, () => deps.sessions.setLease(accountId, id, Math.max(ttl, s.leaseMinSec)));
  ctx.body = { expiresAt: new Date(summary.lease_expires_unix_ms ?? Date.now() + ttl * 1000).toISOString() };
}

/**
 * Where a port of the sandbox is reached. execd's port is durabox's own execd API for the sandbox, opened by
 * a token the answer carries as a header; any other port is durabox's port proxy, by a signed link (a path,
 * so clients that send no headers reach it too). The same answer with or without use_server_proxy: durabox
 * serves both itself.
 */
async function endpoint(deps: AppDeps, ctx: Context, accountId: string, id: string, portText: string): Promise<void> {
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) throw badRequest(`port: must be 1-65535, not ${JSON.stringify(portText)}`);
  const flag = ctx.query.use_server_proxy;
  if (flag !== undefined && !['true', 'false', 'True', 'False', '1', '0'].includes(String(flag))) throw badRequest('use_server_proxy: must be true or false');
  if (ctx.query.expires !== undefined) throw unsupported('expires (signed OSEP-0011 routes)');
  const found = await deps.sessions.peerOf(accountId, id);
  if (!found) throw notFound(id);
  const expires = Date.now() + deps.api.session.maxLifetimeSec * 1000;
  if (port === EXECD_PORT) {
    ctx.body = {
      endpoint: `${ctx.host}/opensandbox/sandboxes/${encodeURIComponent(id)}/execd`,
      headers: { [EXECD_TOKEN_HEADER]: signExecdToken(deps.hashKey, { a: accountId, s: id, x: expires, k: keyedHash(deps.hashKey, ctx.get('open-sandbox-api-key')) }) },
    };
    return;
  }
  const link = signLink(deps.hashKey, { a: accountId, s: id, p: port, x: Date.now() + PORT_LINK_SEC * 1000 });
  ctx.body = { endpoint: `${ctx.host}/api/v1/links/${encodeURIComponent(link)}` };
}
