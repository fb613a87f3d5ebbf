// Session files as MCP resources (docs/mcp/resources.md): `durabox://sessions/<id>/files/<path>`, the
// path relative to /workspace. Listing reads only live sessions (a paused one would be resumed by
// reading it); reading goes through the same confined file call as readFile.
import { DuraboxError } from '../contract/errors.js';
import { describeIssues, sessionId as SessionIdSchema, sessionPath } from '../contract/schemas.js';
import type { AppDeps } from './context.js';
import { utf8Text } from './mcp-tools.js';

export const FILES_TEMPLATE = 'durabox://sessions/{session_id}/files/{+path}';
/** Bounds of one listing: a model's context is the audience, not a file browser. */
export const LIST_SESSIONS = 20;
export const LIST_FILES_PER_SESSION = 200;

export interface FileResource { uri: string; name: string; title?: string; mimeType?: string; description?: string }
export type ResourceContents = { uri: string; mimeType: string; text: string } | { uri: string; mimeType: string; blob: string };

export function fileUri(sessionId: string, path: string): string {
  return `durabox://sessions/${encodeURIComponent(sessionId)}/files/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** The session and the /workspace-relative path a resource URI names; undefined for any other URI. */
export function parseFileUri(uri: string): { sessionId: string; path: string } | undefined {
  const m = /^durabox:\/\/sessions\/([^/]+)\/files\/(.+)$/.exec(uri);
  if (!m) return undefined;
  try {
    const path = m[2].split('/').map(decodeURIComponent).join('/');
    return { sessionId: decodeURIComponent(m[1]), path };
  } catch {
    return undefined;
  }
}

/** The URI's session and path, held to the rules every file call's are (a clear refusal naming what is wrong). */
export function checkedFileUri(uri: string): { sessionId: string; path: string } {
  const at = parseFileUri(uri);
  if (!at) throw new DuraboxError('invalid_input', `uri: not a durabox file resource (expected ${FILES_TEMPLATE})`);
  const id = SessionIdSchema.safeParse(at.sessionId);
  if (!id.success) throw new DuraboxError('invalid_input', `uri: the session id ${describeIssues(id.error)}`);
  const path = sessionPath.safeParse(at.path);
  if (!path.success) throw new DuraboxError('invalid_input', `uri: the path ${describeIssues(path.error)}`);
  if (at.path.startsWith('/')) throw new DuraboxError('invalid_input', 'uri: the path is relative to /workspace (a resource is a file of /workspace)');
  return at;
}

/** The files of the account's live sessions; directories are left out (their files are listed). */
export async function listFileResources(deps: AppDeps, accountId: string): Promise<FileResource[]> {
  const sessions = (await deps.sessions.list(accountId, { status: 'active', page: 1, page_size: LIST_SESSIONS })).items.filter((s) => s.status === 'active');
  const out: FileResource[] = [];
  for (const s of sessions) {
    // The list is eventually consistent: a session paused a moment ago is left out, so listing never resumes one.
    const now = await deps.sessions.get(accountId, s.session_id).catch(() => undefined);
    if (now?.status === 'paused' || now?.status === 'ended') continue;
    const found = await deps.sessions.file(accountId, s.session_id, { op: 'glob', path: '/workspace', pattern: '**/*', limit: LIST_FILES_PER_SESSION }).catch(() => undefined);
    if (!found || found.op !== 'glob') continue;
    const paths = found.matches.map((p) => p.replace(/^\/workspace\//, ''));
    const dirs = new Set(paths.flatMap((p) => p.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
    for (const p of paths) {
      if (dirs.has(p) || p === '/workspace') continue;
      out.push({ uri: fileUri(s.session_id, p), name: p, title: `${p} (session ${s.session_id})`, ...(found.truncated ? { description: `one of the first ${LIST_FILES_PER_SESSION} paths of the session` } : {}) });
    }
  }
  return out;
}

/** One file as resource contents: text when it is UTF-8, else base64 (images included). */
export async function readFileResource(deps: AppDeps, accountId: string, uri: string): Promise<ResourceContents> {
  const at = checkedFileUri(uri);
  const f = await deps.sessions.file(accountId, at.sessionId, { op: 'read', path: at.path, maxBytes: deps.api.session.fileMaxBytes });
  if (f.op === 'list') return { uri, mimeType: 'application/json', text: JSON.stringify({ path: f.path, entries: f.entries }) };
  if (f.op !== 'read') throw new DuraboxError('file_not_found', `no file at ${at.path}`);
  const mimeType = f.mime ?? 'application/octet-stream';
  const text = mimeType.startsWith('image/') ? undefined : utf8Text(Buffer.from(f.contentBase64, 'base64'));
  return text !== undefined ? { uri, mimeType, text } : { uri, mimeType, blob: f.contentBase64 };
}
