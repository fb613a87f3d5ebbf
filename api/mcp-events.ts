// Resource change notifications for clients of the 2026-07-28 revision, which listen with
// `subscriptions/listen` (docs/mcp/resources.md). A file call that wrote paths announces them; a command,
// a cell, or a session's start or end announces that the list may have changed. The announcement goes to
// every API process over PostgreSQL NOTIFY (as output does), and each process hands it to the listen
// streams it holds for that account only: one handler, and so one event bus, per account, so no account
// hears of another's sessions.
import { posix } from 'node:path';
import * as modern from '@modelcontextprotocol/server';
import { componentLog, errorFields } from '../config/log.js';
import type { AppDeps } from './context.js';
import { fileUri } from './mcp-resources.js';

const log = componentLog('api');
const TOPIC = 'mcp-resources';
type Announced = { a: string; s: string; p: string[] };
const MAX_PATHS_BYTES = 6000;

/** The 2.x SDK's handlers, one per account, and the feed of changes into their listen streams. */
export class ModernHandlers {
  private readonly byAccount = new Map<string, modern.McpHttpHandler>();

  constructor(deps: Pick<AppDeps, 'sessions' | 'output'>, private readonly factory: modern.McpServerFactory) {
    deps.sessions.onChange((c) => {
      // NOTIFY takes under 8000 bytes: paths that long are left out, and the list change still goes.
      const paths = Buffer.byteLength(JSON.stringify(c.paths)) > MAX_PATHS_BYTES ? [] : c.paths;
      deps.output.announce(TOPIC, { a: c.accountId, s: c.sessionId, p: paths } satisfies Announced)
        .catch((e: Error) => log.warn(errorFields(e), 'a resource change could not be announced'));
    });
    deps.output.onAnnouncement(TOPIC, (e) => this.deliver(e as Announced));
  }

  /** The account's handler (2026-07-28 requests only: 2025 ones are served by the 1.x server). */
  of(accountId: string): modern.McpHttpHandler {
    let h = this.byAccount.get(accountId);
    if (!h) {
      h = modern.createMcpHandler(this.factory, { legacy: 'reject' });
      this.byAccount.set(accountId, h);
    }
    return h;
  }

  private deliver(e: Announced): void {
    const h = this.byAccount.get(e.a);
    if (!h) return; // nobody of that account listens through this process
    for (const path of e.p) {
      const relative = workspaceRelative(path);
      if (relative) h.notify.resourceUpdated(fileUri(e.s, relative));
    }
    h.notify.resourcesChanged();
  }
}

/**
 * A path as a file call named it (relative to /workspace, or absolute) as the resource path it is, relative
 * to /workspace; undefined outside it (/tmp is no resource).
 */
export function workspaceRelative(path: string): string | undefined {
  const absolute = posix.normalize(path.startsWith('/') ? path : `/workspace/${path}`);
  return absolute.startsWith('/workspace/') ? absolute.slice('/workspace/'.length) : undefined;
}
