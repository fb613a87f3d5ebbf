// envd's directory watch on durabox: by comparing listings. WatchDir (the JS SDK) streams the changes it
// sees every half second; CreateWatcher / GetWatcherEvents / RemoveWatcher (the Python SDK) keep the last
// listing in the container (/tmp/.e2b-watch/<id>.json), so any API process answers a watcher's next call.
import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../../api/context.js';
import { DuraboxError } from '../../contract/errors.js';
import type { FileEntry, FileResult } from '../../contract/messages.js';
import { toSessionPath } from '../common.js';
import { E2bError, openConnectStream, parsed } from './errors.js';
import type { Caller } from './envd.js';

const WATCH_DIR = '/tmp/.e2b-watch';
/** A recursive watch walks at most this many directories per look. */
const MAX_DIRS = 64;
const POLL_MS = 500;

const WatchRequest = z.object({ path: z.string().min(1), recursive: z.boolean().optional(), include_entry: z.boolean().optional(), includeEntry: z.boolean().optional() });
const WatcherRequest = z.object({ watcherId: z.string().regex(/^w_[a-f0-9]{32}$/, 'not a watcher id') });
/** A watcher's record as saveState writes it. */
const WatcherState = z.object({ root: z.string().min(1), recursive: z.boolean(), listing: z.record(z.string(), z.string()) });

/** A listing as `relative path → type:size:modified`: what a change is measured against. */
export type Listing = Record<string, string>;

/** The events between two listings, as envd names them: new entries, gone ones, and changed ones. */
export function changes(before: Listing, after: Listing): Array<{ name: string; type: string }> {
  const out: Array<{ name: string; type: string }> = [];
  for (const [name, v] of Object.entries(after)) {
    if (!(name in before)) out.push({ name, type: 'EVENT_TYPE_CREATE' });
    else if (before[name] !== v) out.push({ name, type: 'EVENT_TYPE_WRITE' });
  }
  for (const name of Object.keys(before)) if (!(name in after)) out.push({ name, type: 'EVENT_TYPE_REMOVE' });
  return out;
}

export function watchApi(deps: AppDeps) {
  const file = <K extends FileResult['op']>(c: Caller, op: Parameters<AppDeps['sessions']['file']>[2] & { op: K }) =>
    deps.sessions.file(c.accountId, c.sandboxId, op) as Promise<Extract<FileResult, { op: K }>>;

  /** Directories the last listing of each watch walked: its next poll waits in proportion (see pollMs). */
  const listing = async (c: Caller, root: string, recursive: boolean, walkedDirs?: { n: number }): Promise<Listing> => {
    const out: Listing = {};
    const dirs = [''];
    let walked = 0;
    while (dirs.length > 0) {
      const rel = dirs.shift()!;
      if (++walked > MAX_DIRS) throw new E2bError(400, `recursive: a watch walks at most ${MAX_DIRS} directories`);
      if (walkedDirs) walkedDirs.n = walked;
      const r = await file(c, { op: 'list', path: rel ? `${root}/${rel}` : root }).catch((e: unknown) => {
        if (e instanceof DuraboxError && e.code === 'file_not_found') {
          if (rel === '') throw new E2bError(404, `directory ${root} does not exist`);
          return undefined; // removed while walking: its entries are gone
        }
        throw e;
      });
      if (!r) continue;
      if (r.op !== 'list') throw new E2bError(400, `path ${root} is not a directory`);
      for (const e of r.entries as FileEntry[]) {
        const name = rel ? `${rel}/${e.name}` : e.name;
        out[name] = `${e.type}:${e.size}:${e.modified}`;
        if (recursive && e.type === 'dir') dirs.push(name);
      }
    }
    return out;
  };

  const stateFile = (id: string) => `${WATCH_DIR}/${id}.json`;
  const loadState = async (c: Caller, id: string): Promise<{ root: string; recursive: boolean; listing: Listing }> => {
    const r = await file(c, { op: 'read', path: stateFile(id), maxBytes: deps.api.session.fileMaxBytes }).catch((e: unknown) => {
      if (e instanceof DuraboxError && e.code === 'file_not_found') throw new E2bError(404, `watcher ${id} not found`);
      throw e;
    });
    if (r.op !== 'read') throw new E2bError(404, `watcher ${id} not found`);
    // The record lives in the container, where the sandbox's own code may have changed it: checked, never trusted.
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(r.contentBase64, 'base64').toString('utf8'));
    } catch {
      json = undefined;
    }
    const state = WatcherState.safeParse(json);
    if (!state.success) throw new E2bError(404, `watcher ${id} not found: its record in the sandbox (${stateFile(id)}) is not readable`);
    return state.data;
  };
  const saveState = (c: Caller, id: string, s: { root: string; recursive: boolean; listing: Listing }) =>
    file(c, { op: 'write', path: stateFile(id), contentBase64: Buffer.from(JSON.stringify(s)).toString('base64') });

  return {
    /** filesystem.Filesystem/WatchDir: a start event, then the changes as they are seen. */
    async stream(ctx: Context, c: Caller, body: unknown) {
      const req = parsed(WatchRequest, body);
      const root = toSessionPath(req.path).replace(/\/+$/, '') || '/';
      const recursive = req.recursive === true;
      const walked = { n: 1 };
      let last = await listing(c, root, recursive, walked);
      const asked = Number(ctx.get('connect-timeout-ms'));
      const deadline = Date.now() + (Number.isFinite(asked) && asked > 0 ? Math.min(asked, 24 * 3600_000) : 60_000);
      const stream = openConnectStream(ctx, { start: {} }, { keepalive: {} });
      try {
        while (!stream.closed && Date.now() < deadline) {
          // Each directory is one read-only session call: a watch of many waits longer between looks, so
          // one watch makes at most about four calls a second whatever the tree.
          await new Promise((r) => setTimeout(r, Math.max(POLL_MS, walked.n * 250)));
          if (stream.closed) break;
          const now = await listing(c, root, recursive, walked);
          for (const ev of changes(last, now)) stream.write({ filesystem: ev });
          last = now;
        }
        stream.end();
      } catch (e) {
        stream.end(e);
      }
    },

    async create(c: Caller, body: unknown) {
      const req = parsed(WatchRequest, body);
      const root = toSessionPath(req.path).replace(/\/+$/, '') || '/';
      const recursive = req.recursive === true;
      const id = `w_${randomUUID().replaceAll('-', '')}`;
      await saveState(c, id, { root, recursive, listing: await listing(c, root, recursive) });
      return { watcherId: id };
    },

    async events(c: Caller, body: unknown) {
      const { watcherId } = parsed(WatcherRequest, body);
      const s = await loadState(c, watcherId);
      const now = await listing(c, s.root, s.recursive);
      const events = changes(s.listing, now);
      if (events.length > 0) await saveState(c, watcherId, { ...s, listing: now });
      return { events };
    },

    async remove(c: Caller, body: unknown) {
      const { watcherId } = parsed(WatcherRequest, body);
      const r = await file(c, { op: 'delete', path: stateFile(watcherId) });
      if (!r.deleted) throw new E2bError(404, `watcher ${watcherId} not found`);
      return {};
    },
  };
}
