// The REST API as the dashboard calls it: the typed client (client/) on the same origin with the login
// cookie. Its wire types are the client's, made from the operation records: none is copied here.
import { DuraboxApiError, DuraboxClient, type Input, type Item, type Output } from '../../../client/index.js';

export { DuraboxApiError as ApiError };

/** Set by the app: called when a call answers 401, so the page goes back to the login form. */
export let onUnauthorized: () => void = () => undefined;
export function setOnUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

/** The page's fetch, watching for a 401 (a wrong password at the login form is not one to leave the page for). */
async function watchedFetch(url: string, init: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  if (res.status === 401 && !url.endsWith('/console/login')) onUnauthorized();
  return res;
}

/** Every call of the dashboard: same origin, cookies sent (the login routes need them). */
export const api = new DuraboxClient({ credentials: 'same-origin', fetch: watchedFetch });

export type Session = Output<'consoleSession'>;
export type Token = Item<'listTokens'>;
export type CreatedToken = Output<'createToken'>;
export type AccountItem = Item<'listAccounts'>;
export type WorkerItem = Item<'listWorkers'>;
export type WorkerStats = Output<'workerStats'>;
export type WorkerInflight = Output<'workerInflight'>;
export type Task = Item<'consoleTasks'>;
export type SessionItem = Item<'consoleSessions'>;
/** GET /api/v1/console/sessions/{id}: the session page's state. */
export type SessionDetail = Output<'consoleGetSession'>;
export type FileListing = Exclude<Output<'consoleReadSessionFile'>, Response>;
export type FileEntry = FileListing['entries'][number];
export type TemplateItem = Item<'consoleTemplates'>;
export type TemplateOffer = Output<'consoleTemplates'>['offered'];
export type TemplateCreate = Input<'consoleCreateTemplate'>['body'];

/** A directory of a session's files; a path that names a file (its bytes come back) is refused. */
export async function listDirectory(id: string, path: string): Promise<FileListing> {
  const answer = await api.consoleReadSessionFile({ id, query: { path } });
  if (answer instanceof Response) throw new Error(`${path} is a file, not a directory`);
  return answer;
}

/**
 * The fields an error message names: a 400 says `invalid request body: name: …; packages.pip.0: …`, and
 * other answers about one field start with it (`name: the account already has …`). A part that names no
 * field belongs to the one before it.
 */
export function fieldProblems(message: string): Array<{ field: string | undefined; text: string }> {
  const parts: Array<{ field: string | undefined; text: string }> = [];
  for (const part of message.replace(/^invalid (request body|query): /, '').split('; ')) {
    const m = /^([A-Za-z_]\w*(?:\.\w+)*): /.exec(part);
    if (m) parts.push({ field: m[1], text: part });
    else if (parts.length) parts[parts.length - 1].text += `; ${part}`;
    else parts.push({ field: undefined, text: part });
  }
  return parts;
}

/** Where an operator opens a workflow in the Temporal UI. */
export function temporalLink(s: Session, workflowId: string): string {
  return `${s.temporal_ui_url.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(s.temporal_namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
