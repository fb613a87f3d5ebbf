// REST of the browser tools (docs/workbench/browser.md): GET /sessions/:id/browser and
// POST /sessions/:id/browser/{navigate,screenshot,click,type,evaluate,html,wait,pdf}. Each call asks the
// platform for the session's CDP endpoint (which refuses another account's session, or one without a
// browser) and runs one function of ./browser.ts against it. Failures answer as session calls do:
// {error, code, message}, the message naming the field at fault.
import type { Context } from 'koa';
import { DuraboxError } from '../../contract/errors.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';
import { sessionErrorAnswer, sessionIdOf } from '../handlers/sessions.js';
import * as browser from './browser.js';
import type { CdpEndpoint } from './browser.js';

type BrowserOps = 'browserInfo' | 'browserNavigate' | 'browserScreenshot' | 'browserClick' | 'browserType' | 'browserEvaluate' | 'browserHtml' | 'browserWait' | 'browserPdf';

/** The session's CDP endpoint for the account (api/streams.ts, through the tunnel), or the refusal of it. */
export function browserEndpoint(deps: Pick<AppDeps, 'workbench'>, accountId: string, sessionId: string): Promise<CdpEndpoint> {
  return deps.workbench.cdpEndpoint(accountId, sessionId);
}

export function browserHandlers(deps: AppDeps): Pick<Handlers, BrowserOps> {
  /** Runs `act` on the session's browser; a DuraboxError answers with its code, as session calls do. */
  const on = async <T>(ctx: Context & { params: Record<string, string>; state: { account?: { id: string } } }, act: (ep: CdpEndpoint) => Promise<T>): Promise<T> => {
    try {
      return await act(await browserEndpoint(deps, ctx.state.account!.id, sessionIdOf(ctx.params.id!)));
    } catch (e) {
      throw e instanceof DuraboxError ? sessionErrorAnswer(e) : e;
    }
  };
  return {
    async browserInfo(ctx) { ctx.body = await on(ctx, (ep) => browser.info(ep)); },
    async browserNavigate(ctx, { body }) { ctx.body = await on(ctx, (ep) => browser.navigate(ep, body)); },
    async browserClick(ctx, { body }) { ctx.body = await on(ctx, (ep) => browser.click(ep, body)); },
    async browserType(ctx, { body }) { ctx.body = await on(ctx, (ep) => browser.type(ep, body)); },
    async browserEvaluate(ctx, { body }) { ctx.body = await on(ctx, (ep) => browser.evaluate(ep, body)); },
    async browserHtml(ctx, { body }) { ctx.body = await on(ctx, (ep) => browser.html(ep, body)); },
    async browserWait(ctx, { body }) { ctx.body = await on(ctx, (ep) => browser.waitFor(ep, body)); },
    async browserScreenshot(ctx, { body }) {
      const shot = await on(ctx, (ep) => browser.screenshot(ep, body));
      ctx.type = shot.mime;
      ctx.body = shot.bytes;
    },
    async browserPdf(ctx, { body }) {
      const doc = await on(ctx, (ep) => browser.pdf(ep, body));
      ctx.type = doc.mime;
      ctx.body = doc.bytes;
    },
  };
}
