// execd's file and directory calls on a durabox session: uploads, downloads and replacements are the
// session's durable file calls; metadata, listings, moves, removals and permissions are one command each
// (stat/find/mv/rm/chmod print or do exactly what execd reports), so ownership and modes are the real ones.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { readRawBody } from '../../api/raw-body.js';
import { DuraboxError } from '../../contract/errors.js';
import { tooLargeToRun, toSessionPath } from '../common.js';
import { OsError, zodMessage } from './errors.js';
import type { ExecdCaller } from './execd.js';
import { jsonBody } from './http.js';
import { byteRange, FIND_FORMAT, parseFileRecords, shQuote, STAT_FORMAT, type FileInfo } from './mapping.js';

/** The largest upload request read (its files are then written one file call each). */
const UPLOAD_LIMIT = 64 * 1024 * 1024;
/** The largest file a download reads. */
const DOWNLOAD_MAX = 64 * 1024 * 1024;
const MODE = /^[0-7]{3,4}$/;

const bad = (message: string) => new OsError(400, 'INVALID_REQUEST_BODY', message);
const missing = (path: string) => new OsError(404, 'FILE_NOT_FOUND', `file not found: ${path}`);

const Permission = z.object({ owner: z.string().max(64).nullish(), group: z.string().max(64).nullish(), mode: z.int().nullish() });
const PermissionMap = z.record(z.string().min(1).max(4096), Permission);
const MoveList = z.array(z.object({ src: z.string().min(1).max(4096), dest: z.string().min(1).max(4096) })).min(1);
const ReplaceMap = z.record(z.string().min(1).max(4096), z.object({ old: z.string().min(1), new: z.string() }));
const UploadMeta = z.object({ path: z.string().min(1).max(4096), mode: z.int().nullish(), owner: z.string().max(64).nullish(), group: z.string().max(64).nullish() });

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw bad(zodMessage(r.error));
  return r.data;
}

/** The `path` query parameter(s), each a path the container knows (the peer home, /home/user, is /workspace). */
function pathsOf(ctx: Context, name = 'path'): string[] {
  const raw = ([] as string[]).concat(ctx.query[name] ?? []);
  if (raw.length === 0 || raw.some((p) => p === '')) throw bad(`${name}: required`);
  return raw.map((p) => containerPath(p, name));
}

function containerPath(p: string, field: string): string {
  if (p.includes('\0') || p.length > 4096) throw bad(`${field}: not a valid path`);
  return toSessionPath(p);
}

/** A mode as execd writes it (octal digits, 755), checked, for chmod. */
function modeOf(mode: number | null | undefined, field: string): string | undefined {
  if (mode === undefined || mode === null) return undefined;
  if (!MODE.test(String(mode))) throw bad(`${field}: ${mode} is not an octal mode like 644 or 755`);
  return String(mode);
}

type Route = (ctx: Context, c: ExecdCaller) => Promise<void>;

export function fileRoutes(deps: AppDeps): (ctx: Context, c: ExecdCaller, path: string) => Promise<boolean> {
  const sh = (c: ExecdCaller, command: string) => {
    // Many paths (a large directory map, a search's many matches) make a long command: it must fit an Update.
    const tooLarge = tooLargeToRun(command);
    if (tooLarge) throw new OsError(413, 'PAYLOAD_TOO_LARGE', `the paths of this call make a command that ${tooLarge}: send fewer at a time`);
    return deps.sessions.exec(c.accountId, { session_id: c.sessionId, create_if_missing: false, command, timeout_ms: 60_000 });
  };
  const routes: Record<string, Route> = {
    'GET /files/info': async (ctx, c) => {
      const paths = pathsOf(ctx);
      const asked = ([] as string[]).concat(ctx.query.path ?? []);
      const out = await sh(c, `stat --printf ${shQuote(STAT_FORMAT)} -- ${paths.map(shQuote).join(' ')} 2>/dev/null; true`);
      const infos = new Map(parseFileRecords(out.stdout).map((i) => [i.path, i]));
      // Keyed and named as the caller asked (a /home/user path stays one).
      const answer: Record<string, FileInfo> = {};
      paths.forEach((p, i) => {
        const info = infos.get(p);
        if (!info) throw missing(asked[i]!);
        answer[asked[i]!] = { ...info, path: asked[i]! };
      });
      ctx.body = answer;
    },
    'DELETE /files': async (ctx, c) => {
      const paths = pathsOf(ctx);
      // Files only, as execd: a directory is left for DELETE /directories.
      await sh(c, paths.map((p) => `[ -d ${shQuote(p)} ] && [ ! -L ${shQuote(p)} ] || rm -f -- ${shQuote(p)}`).join('\n'));
      ctx.body = '';
      ctx.status = 200;
    },
    'POST /directories': async (ctx, c) => {
      const dirs = parse(PermissionMap, await jsonBody(ctx));
      const lines = Object.entries(dirs).flatMap(([p, perm]) => {
        const path = containerPath(p, 'path');
        const mode = modeOf(perm.mode, `${p}.mode`);
        return [`mkdir -p -- ${shQuote(path)}`, ...(mode ? [`chmod ${mode} -- ${shQuote(path)}`] : []), ...ownership(path, perm)];
      });
      await checked(sh(c, `set -e\n${lines.join('\n')}`), 'create directories');
      ctx.body = '';
      ctx.status = 200;
    },
    'DELETE /directories': async (ctx, c) => {
      await sh(c, `rm -rf -- ${pathsOf(ctx).map(shQuote).join(' ')}`);
      ctx.body = '';
      ctx.status = 200;
    },
    'GET /directories/list': async (ctx, c) => {
      const [path] = pathsOf(ctx);
      const depthText = typeof ctx.query.depth === 'string' ? ctx.query.depth : '1';
      if (!/^\d{1,3}$/.test(depthText)) throw bad('depth: must be a whole number');
      const depth = Math.max(1, Number(depthText));
      const p = shQuote(path!);
      const out = await sh(c, `if [ -L ${p} ]; then exit 3; fi; [ -d ${p} ] || exit 4; find ${p} -mindepth 1 -maxdepth ${depth} -printf ${shQuote(FIND_FORMAT)}`);
      if (out.exit_code === 3) throw bad(`path: ${path} is a symbolic link; list the directory it points to`);
      if (out.exit_code === 4) throw missing(path!);
      ctx.body = parseFileRecords(out.stdout).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
    'GET /files/search': async (ctx, c) => {
      const [path] = pathsOf(ctx);
      const pattern = typeof ctx.query.pattern === 'string' && ctx.query.pattern !== '' ? ctx.query.pattern : '**';
      const r = await deps.sessions.file(c.accountId, c.sessionId, { op: 'glob', path: path!, pattern, limit: 10_000 });
      if (r.op !== 'glob') throw new Error('a glob answered another op');
      if (r.matches.length === 0) {
        ctx.body = [];
        return;
      }
      const out = await sh(c, `stat --printf ${shQuote(STAT_FORMAT)} -- ${r.matches.map(shQuote).join(' ')} 2>/dev/null; true`);
      ctx.body = parseFileRecords(out.stdout);
    },
    'POST /files/mv': async (ctx, c) => {
      const moves = parse(MoveList, await jsonBody(ctx));
      for (const m of moves) {
        const src = containerPath(m.src, 'src');
        const dest = containerPath(m.dest, 'dest');
        const out = await sh(c, `[ -e ${shQuote(src)} ] || [ -L ${shQuote(src)} ] || exit 4; mv -- ${shQuote(src)} ${shQuote(dest)}`);
        if (out.exit_code === 4) throw missing(m.src);
        if (out.exit_code !== 0) throw bad(`dest: could not move ${m.src} to ${m.dest}: ${out.stderr.trim()}`);
      }
      ctx.body = '';
      ctx.status = 200;
    },
    'POST /files/permissions': async (ctx, c) => {
      const perms = parse(PermissionMap, await jsonBody(ctx));
      const lines = Object.entries(perms).flatMap(([p, perm]) => {
        const path = containerPath(p, 'path');
        const mode = modeOf(perm.mode, `${p}.mode`);
        return [...(mode ? [`chmod ${mode} -- ${shQuote(path)}`] : []), ...ownership(path, perm)];
      });
      await checked(sh(c, `set -e\n${lines.join('\n')}`), 'set permissions');
      ctx.body = '';
      ctx.status = 200;
    },
    'POST /files/replace': async (ctx, c) => {
      const items = parse(ReplaceMap, await jsonBody(ctx));
      const counts: Record<string, { replacedCount: number }> = {};
      for (const [p, r] of Object.entries(items)) {
        const done = await deps.sessions.file(c.accountId, c.sessionId, { op: 'edit', path: containerPath(p, 'path'), oldText: r.old, newText: r.new, replaceAll: true })
          .then((x) => (x.op === 'edit' ? x.replacements : 0))
          // Text that is not in the file replaces nothing, as execd's strings.ReplaceAll.
          .catch((e: unknown) => { if (e instanceof DuraboxError && e.code === 'invalid_input' && /not found|no match|not in/i.test(e.message)) return 0; throw e; });
        counts[p] = { replacedCount: done };
      }
      ctx.body = ctx.query.verbose === 'true' ? counts : '';
      ctx.status = 200;
    },
    'POST /files/upload': (ctx, c) => upload(deps, ctx, c),
    'GET /files/download': (ctx, c) => download(deps, ctx, c),
  };
  return async (ctx, c, path) => {
    const route = routes[`${ctx.method} ${path}`];
    if (!route) return false;
    await route(ctx, c);
    return true;
  };
}

function ownership(path: string, perm: { owner?: string | null; group?: string | null }): string[] {
  if (!perm.owner && !perm.group) return [];
  const who = `${perm.owner ?? ''}${perm.group ? `:${perm.group}` : ''}`;
  return [`chown ${shQuote(who)} -- ${shQuote(path)}`];
}

/** A command that must succeed: its error output names what went wrong. */
async function checked(run: Promise<{ exit_code: number; stderr: string }>, what: string): Promise<void> {
  const out = await run;
  if (out.exit_code !== 0) throw bad(`could not ${what}: ${out.stderr.trim() || `exit status ${out.exit_code}`}`);
}

/**
 * execd's multipart upload: a `metadata` part (JSON: path, mode, owner, group) before each `file` part.
 * Each file is a durable file call; modes and owners then one command.
 */
async function upload(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  const type = ctx.get('content-type');
  if (!/^multipart\/form-data\b/i.test(type)) throw bad('body: send multipart/form-data (a metadata part before each file part)');
  const raw = await readRawBody(ctx, UPLOAD_LIMIT, `the upload is larger than ${UPLOAD_LIMIT} bytes`).catch((e: unknown) => {
    if (e instanceof DuraboxError && e.code === 'file_too_large') throw new OsError(413, 'PAYLOAD_TOO_LARGE', e.message);
    throw e;
  });
  const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': type } }).formData().catch(() => { throw bad('body: not a valid multipart/form-data body'); });
  const files: Array<{ meta: z.output<typeof UploadMeta>; data: Buffer }> = [];
  let meta: z.output<typeof UploadMeta> | undefined;
  for (const [name, value] of form.entries()) {
    if (name === 'metadata') {
      const text = typeof value === 'string' ? value : await value.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw bad('metadata: not valid JSON');
      }
      meta = parse(UploadMeta, json);
    } else if (name === 'file') {
      if (!meta) throw bad('file: each file part must follow its metadata part');
      const data = typeof value === 'string' ? Buffer.from(value) : Buffer.from(await value.arrayBuffer());
      files.push({ meta, data });
      meta = undefined;
    }
  }
  if (files.length === 0) throw bad('file: no file part in the upload');
  // Each file travels as one file call (a workflow Update): past durabox's file limit it would not fit Temporal's payloads.
  const max = deps.api.session.fileMaxBytes;
  const big = files.find((f) => f.data.length > max);
  if (big) throw new OsError(413, 'PAYLOAD_TOO_LARGE', `file: ${big.meta.path} is ${big.data.length} bytes, more than durabox's file limit of ${max} bytes`);
  const after: string[] = [];
  for (const f of files) {
    const path = containerPath(f.meta.path, 'metadata.path');
    await deps.sessions.file(c.accountId, c.sessionId, { op: 'write', path, contentBase64: f.data.toString('base64') });
    const mode = modeOf(f.meta.mode, 'metadata.mode');
    if (mode) after.push(`chmod ${mode} -- ${shQuote(path)}`);
    after.push(...ownership(path, f.meta));
  }
  if (after.length > 0) await checked(deps.sessions.exec(c.accountId, { session_id: c.sessionId, create_if_missing: false, command: `set -e\n${after.join('\n')}`, timeout_ms: 60_000 }), 'set the uploaded files\' modes');
  ctx.body = '';
  ctx.status = 200;
}

/** The JS SDK's `offset`/`limit` query parameters, as the Range header they mean. */
function rangeOfQuery(ctx: Context): string | undefined {
  const { offset, limit } = ctx.query;
  if (offset === undefined && limit === undefined) return undefined;
  const from = typeof offset === 'string' && /^\d+$/.test(offset) ? Number(offset) : undefined;
  const count = typeof limit === 'string' && /^\d+$/.test(limit) ? Number(limit) : undefined;
  if ((offset !== undefined && from === undefined) || (limit !== undefined && (count === undefined || count === 0))) throw bad('offset, limit: must be whole numbers, limit above 0');
  return `bytes=${from ?? 0}-${count !== undefined ? (from ?? 0) + count - 1 : ''}`;
}

async function download(deps: AppDeps, ctx: Context, c: ExecdCaller): Promise<void> {
  const [path] = pathsOf(ctx);
  const r = await deps.sessions.file(c.accountId, c.sessionId, { op: 'read', path: path!, maxBytes: DOWNLOAD_MAX }).catch((e: unknown) => {
    if (e instanceof DuraboxError && e.code === 'file_not_found') throw missing(String(ctx.query.path));
    throw e;
  });
  if (r.op !== 'read') throw new Error('a read answered another op');
  let bytes = Buffer.from(r.contentBase64, 'base64');
  const range = byteRange(ctx.get('range') || rangeOfQuery(ctx), bytes.length);
  if (range === 'bad') {
    ctx.set('Content-Range', `bytes */${bytes.length}`);
    throw new OsError(416, 'INVALID_RANGE', `range ${ctx.get('range')} is not within the file's ${bytes.length} bytes`);
  }
  ctx.set('Content-Disposition', `attachment; filename="${encodeURIComponent(path!.split('/').pop() ?? 'file')}"`);
  ctx.type = 'application/octet-stream';
  if (range) {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${range.start}-${range.end}/${bytes.length}`);
    bytes = bytes.subarray(range.start, range.end + 1);
  }
  ctx.body = bytes;
}
