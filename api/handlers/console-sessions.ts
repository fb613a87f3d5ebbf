// The dashboard's session page (spec §3.4): a session's state, files, checkpoints, snapshots and fork by
// the login cookie. Each route hands its call to the token route's own handler, so both answer alike
// from the same session service; the token routes stay token-only.
//
// Cross-site requests: the cookie is SameSite=Lax, so another site's page never sends it with a call. A
// page of a sibling host of the same site (a preview host of a session's web app, say) does send it, so a
// call that changes something must also come from the API's own origin: browsers send the Origin header
// with every such call, and a page cannot forge it. Uploads are PUT with a raw body, which no HTML form
// can send; the JSON bodies are refused in any other format (api/routes.ts).
import type { Context } from 'koa';
import type { z } from 'zod';
import { DuraboxError } from '../../contract/errors.js';
import type { ConsoleSessionView } from '../../contract/schemas.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';
import { answer, sessionErrorAnswer, sessionHandlers, sessionIdOf } from './sessions.js';
import { snapshotHandlers, snapshotView } from './snapshots.js';
import { workbenchHandlers } from './workbench.js';

type ConsoleSessionOps = 'consoleGetSession' | 'consoleDeleteSession' | 'consoleReadSessionFile' | 'consoleWriteSessionFile'
  | 'consoleDeleteSessionFile' | 'consoleForkSession' | 'consoleCreateSnapshot' | 'consoleSessionPorts';

/** The chain parts the page shows: the newest few (a chain is a base and its deltas until the next full part). */
const CHAIN_PARTS_SHOWN = 20;

export function consoleSessionHandlers(deps: AppDeps): Pick<Handlers, ConsoleSessionOps> {
  const sessions = sessionHandlers(deps);
  const snapshots = snapshotHandlers(deps);
  const workbench = workbenchHandlers(deps);
  return {
    async consoleGetSession(ctx) {
      const accountId = ctx.state.account!.id;
      const id = await answer(async () => sessionIdOf(ctx.params.id));
      const s = await answer(() => deps.sessions.get(accountId, id));
      if (!s) throw sessionErrorAnswer(new DuraboxError('session_not_found', `no session ${id}`));
      const [parts, generation, named] = await Promise.all([
        deps.snapshots.chain(accountId, id),
        deps.snapshots.generation(accountId, id),
        deps.snapshots.listNamed(accountId),
      ]);
      const body: z.input<typeof ConsoleSessionView> = {
        ...s,
        workflow_id: deps.sessions.workflowId(accountId, id),
        chain: {
          generation: generation ?? null,
          parts_total: parts.length,
          parts: parts.slice(-CHAIN_PARTS_SHOWN).map((p) => ({ seq: p.seq, kind: p.kind, bytes: p.bytes, raw_bytes: p.raw_bytes, created_at: p.created_at.toISOString() })),
        },
        snapshots: named.filter((n) => n.source_session_id === id).map(snapshotView),
      };
      ctx.body = body;
    },

    consoleReadSessionFile: (ctx, { body, query }) => sessions.readSessionFile(ctx, { body, query }),

    consoleSessionPorts: (ctx, { body, query }) => workbench.listSessionPorts(ctx, { body, query }),

    consoleWriteSessionFile(ctx, { body, query }) {
      sameOrigin(ctx);
      return sessions.writeSessionFile(ctx, { body, query });
    },

    consoleDeleteSessionFile(ctx, { body, query }) {
      sameOrigin(ctx);
      return sessions.deleteSessionFile(ctx, { body, query });
    },

    consoleDeleteSession(ctx, { body, query }) {
      sameOrigin(ctx);
      return sessions.deleteSession(ctx, { body, query });
    },

    consoleForkSession(ctx, { query }) {
      sameOrigin(ctx);
      // The default lease: the token route's lease bounds are checked on its own body, which this is not.
      return snapshots.forkSession(ctx, { body: {}, query });
    },

    consoleCreateSnapshot(ctx, { body, query }) {
      sameOrigin(ctx);
      return snapshots.createSnapshot(ctx, { body, query });
    },
  };
}

/**
 * Refuses a call whose Origin is not the API's own host (as the browser reached it: `Host`, or a trusted
 * proxy's X-Forwarded-Host), or that sends none: a browser always sends it with a PUT, POST or DELETE.
 */
export function sameOrigin(ctx: Context): void {
  const origin = ctx.get('origin');
  let host: string | undefined;
  try {
    host = origin ? new URL(origin).host : undefined;
  } catch {
    host = undefined;
  }
  if (!origin) throw new DuraboxError('forbidden', 'Origin: missing; a login-cookie call that changes something must come from the dashboard\'s own page');
  if (host !== ctx.host) throw new DuraboxError('forbidden', `Origin: ${origin} is not this API's own; a login-cookie call that changes something must come from the dashboard's own page`);
}
