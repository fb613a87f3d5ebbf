// Forks and named snapshots of sessions (spec §6; docs/sessions/fork-and-snapshots.md).
import type { z } from 'zod';
import { DuraboxError } from '../../contract/errors.js';
import { snapshotName, type SnapshotView } from '../../contract/schemas.js';
import type { NamedSnapshot } from '../../db/snapshots.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';
import { answer, sessionIdOf } from './sessions.js';

export function snapshotHandlers(deps: AppDeps): Pick<Handlers, 'forkSession' | 'createSnapshot' | 'listSnapshots' | 'getSnapshot' | 'deleteSnapshot'> {
  const sessions = deps.sessions;
  return {
    async forkSession(ctx, { body }) {
      const forked = await answer(() => sessions.fork(ctx.state.account!.id, sessionIdOf(ctx.params.id), body));
      ctx.status = 201;
      ctx.body = forked;
    },

    async createSnapshot(ctx, { body }) {
      const id = sessionIdOf(ctx.params.id);
      ctx.status = 201;
      ctx.body = snapshotView(await sessions.saveSnapshot(ctx.state.account!.id, id, body.name));
    },

    async listSnapshots(ctx) {
      const items = (await deps.snapshots.listNamed(ctx.state.account!.id)).map(snapshotView);
      ctx.body = { items, total: items.length };
    },

    async getSnapshot(ctx) {
      const name = nameOf(ctx.params.name);
      const s = await deps.snapshots.getNamed(ctx.state.account!.id, name);
      if (!s) throw new DuraboxError('snapshot_not_found', `no snapshot ${name}`);
      ctx.body = snapshotView(s);
    },

    async deleteSnapshot(ctx) {
      const name = nameOf(ctx.params.name);
      if (!(await deps.snapshots.deleteNamed(ctx.state.account!.id, name))) throw new DuraboxError('snapshot_not_found', `no snapshot ${name}`);
      ctx.status = 204;
    },
  };
}

export function snapshotView(s: NamedSnapshot): z.output<typeof SnapshotView> {
  return { name: s.name, session_id: s.source_session_id, template: s.template, parts: s.parts, bytes: s.bytes, raw_bytes: s.raw_bytes, created_at: s.created_at.toISOString() };
}

/** A name that cannot be a snapshot's answers as an unknown one. */
function nameOf(raw: string): string {
  const r = snapshotName.safeParse(raw);
  if (!r.success) throw new DuraboxError('snapshot_not_found', 'no snapshot with this name');
  return r.data;
}
