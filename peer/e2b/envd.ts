// envd, the agent E2B's SDKs talk to inside a sandbox: its process and filesystem services over the
// Connect protocol with JSON, and its /files upload and download. Each call is a durabox session call:
// a file call is a file Update; processes are in processes.ts.
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { DuraboxError } from '../../contract/errors.js';
import type { FileEntry, FileResult } from '../../contract/messages.js';
import type { PeerMemo } from '../../control/session-service.js';
import { PEER_HOME, toPeerPath, toSessionPath } from '../common.js';
import { bodyOf, connectCodeFor, E2bError, parsed, statusOf, unsupported } from './errors.js';
import { endOfStream, entryInfo, firstEnveloped, splitPath } from './protocol.js';
import { processApi } from './processes.js';
import { watchApi } from './watch.js';

const PathRequest = z.object({ path: z.string().min(1) });
const ListDirRequest = z.object({ path: z.string().min(1), depth: z.int().min(0).max(20).optional() });
const MoveRequest = z.object({ source: z.string().min(1), destination: z.string().min(1) });

export interface Caller { accountId: string; sandboxId: string; peer?: PeerMemo }

/** The most directories one ListDir with a depth walks (each is a session call). */
const LIST_MAX_DIRS = 64;

export function envdApi(deps: AppDeps) {
  const processes = processApi(deps);
  const watches = watchApi(deps);
  const fileMax = deps.api.session.fileMaxBytes;

  const file = <K extends FileResult['op']>(c: Caller, op: Parameters<AppDeps['sessions']['file']>[2] & { op: K }) =>
    deps.sessions.file(c.accountId, c.sandboxId, op) as Promise<Extract<FileResult, { op: K }>>;

  /** The entry at `path` (envd's Stat), from its directory's listing. */
  const stat = async (c: Caller, path: string) => {
    const abs = toSessionPath(path);
    const { dir, name } = splitPath(abs);
    if (name === '') return { name: '', type: 'FILE_TYPE_DIRECTORY', path: '/', size: '0', mode: 0o755, permissions: 'drwxr-xr-x', owner: 'root', group: 'root' };
    const listing = await file(c, { op: 'list', path: dir }).catch((e: unknown) => {
      if (e instanceof DuraboxError && e.code === 'file_not_found') throw new E2bError(404, `path ${path} does not exist`);
      throw e;
    });
    if (listing.op !== 'list') throw new E2bError(404, `path ${path} does not exist`);
    const found = listing.entries.find((e) => e.name === name);
    if (!found) throw new E2bError(404, `path ${path} does not exist`);
    return entryInfo(dir, found);
  };

  /** A listing with depth walks one directory per session call: at most LIST_MAX_DIRS of them per call. */
  const listDir = async (c: Caller, path: string, depth: number, budget = { dirs: LIST_MAX_DIRS }): Promise<Record<string, unknown>[]> => {
    if (--budget.dirs < 0) throw new E2bError(400, `depth: the tree holds more than ${LIST_MAX_DIRS} directories to that depth; list with a smaller depth`);
    const abs = toSessionPath(path);
    const r = await file(c, { op: 'list', path: abs }).catch((e: unknown) => {
      if (e instanceof DuraboxError && e.code === 'file_not_found') throw new E2bError(404, `directory ${path} does not exist`);
      throw e;
    });
    if (r.op !== 'list') throw new E2bError(400, `path ${path} is not a directory`);
    const out: Record<string, unknown>[] = [];
    for (const e of r.entries as FileEntry[]) {
      out.push(entryInfo(abs, e));
      if (e.type === 'dir' && depth > 1) out.push(...(await listDir(c, `${abs.replace(/\/+$/, '')}/${e.name}`, depth - 1, budget)));
    }
    return out;
  };

  const unary: Record<string, (c: Caller, body: unknown) => Promise<unknown>> = {
    'filesystem.Filesystem/Stat': async (c, b) => ({ entry: await stat(c, parsed(PathRequest, b).path) }),
    'filesystem.Filesystem/ListDir': async (c, b) => {
      const r = parsed(ListDirRequest, b);
      return { entries: await listDir(c, r.path, r.depth || 1) };
    },
    'filesystem.Filesystem/MakeDir': async (c, b) => {
      const { path } = parsed(PathRequest, b);
      const r = await file(c, { op: 'mkdir', path: toSessionPath(path), parents: true });
      if (!r.created) throw new E2bError(409, `directory ${path} already exists`);
      return { entry: await stat(c, path) };
    },
    'filesystem.Filesystem/Move': async (c, b) => {
      const r = parsed(MoveRequest, b);
      await file(c, { op: 'move', path: toSessionPath(r.source), to: toSessionPath(r.destination), overwrite: true });
      return { entry: await stat(c, r.destination) };
    },
    'filesystem.Filesystem/Remove': async (c, b) => {
      const { path } = parsed(PathRequest, b);
      const r = await file(c, { op: 'delete', path: toSessionPath(path) });
      if (!r.deleted) throw new E2bError(404, `path ${path} does not exist`);
      return {};
    },
    'process.Process/List': (c) => processes.list(c),
    'process.Process/SendSignal': (c, b) => processes.signal(c, b),
    'process.Process/SendInput': (c, b) => processes.sendInput(c, b),
    'process.Process/CloseStdin': (c, b) => processes.closeStdin(c, b),
    'process.Process/StreamInput': async () => { throw unsupported('streamed stdin (a client stream)'); },
    'process.Process/Update': async () => { throw unsupported('a PTY (pty.resize)'); },
    'filesystem.Filesystem/CreateWatcher': (c, b) => watches.create(c, b),
    'filesystem.Filesystem/GetWatcherEvents': (c, b) => watches.events(c, b),
    'filesystem.Filesystem/RemoveWatcher': (c, b) => watches.remove(c, b),
  };

  const streaming = async (ctx: Context, c: Caller, method: string, raw: Buffer) => {
    let body: unknown;
    try {
      body = firstEnveloped(raw);
    } catch (e) {
      throw new E2bError(400, (e as Error).message);
    }
    if (method === 'process.Process/Start' || method === 'process.Process/Connect') return processes.stream(ctx, c, method === 'process.Process/Start' ? 'Start' : 'Connect', body);
    if (method === 'filesystem.Filesystem/WatchDir') return watches.stream(ctx, c, body);
    throw new E2bError(404, `no envd method ${method}`);
  };

  return {
    /** An RPC (`/<service>/<method>`): unary with application/json, server-streaming with application/connect+json. */
    async rpc(ctx: Context, c: Caller, method: string) {
      const raw = await bodyOf(ctx, 1 << 20);
      const type = ctx.get('content-type').split(';')[0].trim().toLowerCase();
      if (type === 'application/connect+json') {
        try {
          return await streaming(ctx, c, method, raw);
        } catch (e) {
          // Refused before the stream began: a Connect stream still answers 200, its error in the end message.
          ctx.status = 200;
          ctx.type = 'application/connect+json';
          ctx.body = endOfStream({ code: connectCodeFor(e), message: statusOf(e).message });
          return;
        }
      }
      if (type !== 'application/json') throw new E2bError(415, `content-type: send application/json (unary) or application/connect+json (streaming), not ${type || 'none'}`);
      const handler = unary[method];
      if (!handler) throw new E2bError(404, `no envd method ${method}`);
      let body: unknown = {};
      try {
        body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : {};
      } catch {
        throw new E2bError(400, 'the body is not JSON');
      }
      ctx.type = 'application/json';
      ctx.body = await handler(c, body);
    },

    /** GET /files?path=: the file's bytes. */
    async download(ctx: Context, c: Caller) {
      const path = String(ctx.query.path ?? '');
      if (!path) throw new E2bError(400, 'path: required');
      const r = await file(c, { op: 'read', path: toSessionPath(path), maxBytes: fileMax }).catch((e: unknown) => {
        if (e instanceof DuraboxError && e.code === 'file_not_found') throw new E2bError(404, `path ${path} does not exist`);
        throw e;
      });
      if (r.op !== 'read') throw new E2bError(400, `path ${path} is a directory`);
      ctx.type = 'application/octet-stream';
      ctx.body = Buffer.from(r.contentBase64, 'base64');
    },

    /** POST /files: multipart parts (or one octet-stream body) written to ?path= or each part's file name. */
    async upload(ctx: Context, c: Caller) {
      const query = typeof ctx.query.path === 'string' && ctx.query.path ? ctx.query.path : undefined;
      const type = ctx.get('content-type');
      const raw = await bodyOf(ctx, fileMax * 2 + 65_536);
      const files: Array<{ path: string; data: Buffer }> = [];
      if (/^multipart\/form-data/i.test(type)) {
        const form = await new Request('http://local/', { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(raw) }).formData().catch(() => {
          throw new E2bError(400, 'the body is not multipart/form-data');
        });
        for (const [, v] of form.entries()) {
          if (typeof v === 'string') continue;
          const path = query && form.getAll('file').length <= 1 ? query : v.name;
          if (!path) throw new E2bError(400, 'path: required (the query, or the part\'s file name)');
          files.push({ path, data: Buffer.from(await v.arrayBuffer()) });
        }
      } else {
        if (!query) throw new E2bError(400, 'path: required');
        files.push({ path: query, data: raw });
      }
      if (files.length === 0) throw new E2bError(400, 'file: no file in the body');
      const out = [];
      for (const f of files) {
        if (f.data.length > fileMax) throw new E2bError(413, `file ${f.path}: larger than ${fileMax} bytes`);
        const r = await file(c, { op: 'write', path: toSessionPath(f.path), contentBase64: f.data.toString('base64') });
        out.push({ name: splitPath(r.path).name, type: 'file', path: toPeerPath(r.path, PEER_HOME) });
      }
      ctx.body = out;
    },
  };
}
