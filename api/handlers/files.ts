// The session file tools over REST (docs/workbench/file-tools.md): glob, grep, edit, move, copy, mkdir,
// each a file call of the session's workflow, confined to /workspace and /tmp like read and write.
import type { FileOp, FileResult } from '../../contract/messages.js';
import type { AppDeps } from '../context.js';
import type { Handlers } from '../routes.js';
import { answer, sessionIdOf } from './sessions.js';

type FileToolHandlers = Pick<Handlers, 'globSessionFiles' | 'grepSessionFiles' | 'editSessionFile' | 'moveSessionFile' | 'copySessionFile' | 'makeSessionDirectory'>;

export function fileToolHandlers(deps: AppDeps): FileToolHandlers {
  /** Runs one file call of the session the route names, as the caller's account. */
  const run = <K extends FileResult['op']>(ctx: { state: { account?: { id: string } }; params: Record<string, string> }, op: FileOp & { op: K }) =>
    answer(() => deps.sessions.file(ctx.state.account!.id, sessionIdOf(ctx.params.id ?? ''), op)) as Promise<Extract<FileResult, { op: K }>>;

  return {
    async globSessionFiles(ctx, { query: q }) {
      const r = await run(ctx, { op: 'glob', path: q.path, pattern: q.pattern, limit: q.limit });
      ctx.body = { path: r.path, matches: r.matches, truncated: r.truncated };
    },

    async grepSessionFiles(ctx, { query: q }) {
      const r = await run(ctx, { op: 'grep', path: q.path, pattern: q.pattern, ...(q.glob ? { glob: q.glob } : {}), ignoreCase: q.ignore_case, limit: q.limit });
      ctx.body = { path: r.path, matches: r.matches, truncated: r.truncated };
    },

    async editSessionFile(ctx, { body: b }) {
      const r = await run(ctx, { op: 'edit', path: b.path, oldText: b.old_text, newText: b.new_text, replaceAll: b.replace_all });
      ctx.body = { path: r.path, replacements: r.replacements, size: r.size };
    },

    async moveSessionFile(ctx, { body: b }) {
      const r = await run(ctx, { op: 'move', path: b.from, to: b.to, overwrite: b.overwrite });
      ctx.body = { from: r.path, to: r.to };
    },

    async copySessionFile(ctx, { body: b }) {
      const r = await run(ctx, { op: 'copy', path: b.from, to: b.to, recursive: b.recursive, overwrite: b.overwrite });
      ctx.body = { from: r.path, to: r.to };
    },

    async makeSessionDirectory(ctx, { body: b }) {
      const r = await run(ctx, { op: 'mkdir', path: b.path, parents: b.parents });
      ctx.body = { path: r.path, created: r.created };
    },
  };
}
