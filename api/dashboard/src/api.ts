// The REST API as the dashboard calls it: same origin, the login cookie, `{error}` bodies.
import type { TemplateOfferBody, TemplateViewBody } from '../../../contract/templates.js';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Set by the app: called when a call answers 401, so the page goes back to the login form. */
export let onUnauthorized: () => void = () => undefined;
export function setOnUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as { error?: string; code?: string; message?: string };
  if (!res.ok) throw failure(res, data, path);
  return data as T;
}

/** The error an answer that is not ok stands for; a 401 also sends the page back to the login form. */
export function failure(res: Response, data: { error?: string; code?: string; message?: string }, path: string): ApiError {
  if (res.status === 401 && !path.endsWith('/console/login')) onUnauthorized();
  // A session error says what happened in this call in `message` (`error` is the general phrase).
  return new ApiError(res.status, (data.code && data.message) || data.error || res.statusText);
}

export interface Session {
  authenticated: boolean;
  account: { account_id: string; username: string; is_admin: boolean };
  registration_enabled: boolean;
  console_version: string;
  temporal_ui_url: string;
  temporal_namespace: string;
}

export interface Token { id: string; name: string; token_masked: string; created_at: string; updated_at: string }
export interface CreatedToken extends Token { token: string; generated: boolean }

export interface AccountItem { account_id: string; username: string; is_admin: boolean; created_at: string; updated_at: string }

export interface WorkerItem {
  node_id: string;
  node_name: string;
  executor_kind: string;
  capabilities: Array<{ name: string; max_inflight: number }>;
  labels: Record<string, string>;
  version: string;
  status: 'online' | 'offline';
  registered_at: string;
  last_seen_at: string | null;
}
export interface WorkerStats { total: number; online: number; offline: number; stale: number; stale_after_sec: number; generated_at: string }
export interface WorkerInflight { workers: Array<{ node_id: string; capabilities: Array<{ name: string; inflight: number; max_inflight: number }> }>; generated_at: string }

export interface Task {
  task_id: string;
  request_id: string | null;
  capability: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'timeout';
  error?: { code: string; message: string };
  created_at: string;
  updated_at: string;
  completed_at?: string;
}

export interface SessionSummary {
  session_id: string;
  status: 'starting' | 'active' | 'busy' | 'paused' | 'ended';
  host: string | null;
  created_at: string | null;
  lease_expires_unix_ms: number | null;
  commands: number;
  ended_reason?: string;
  checkpoint?: { at: string; bytes: number; raw_bytes: number };
}
export interface SnapshotItem { name: string; session_id: string; template: string | null; parts: number; bytes: number; raw_bytes: number; created_at: string }
/** GET /api/v1/console/sessions/{id}: the session page's state. */
export interface SessionDetail extends SessionSummary {
  workflow_id: string;
  chain: { generation: number | null; parts_total: number; parts: Array<{ seq: number; kind: 'full' | 'delta'; bytes: number; raw_bytes: number; created_at: string }> };
  snapshots: SnapshotItem[];
}
export interface FileEntry { name: string; type: 'file' | 'dir' | 'symlink' | 'other'; size: number; modified: string }

export interface SessionItem {
  session_id: string;
  workflow_id: string;
  status: string;
  host?: string | null;
  created_at?: string | null;
  ended_at?: string;
  ended_reason?: string;
}

/** A template as the API answers it: the contract's own type (a type only: no contract code is bundled here). */
export type TemplateItem = TemplateViewBody;
export type TemplateOffer = TemplateOfferBody;

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

export interface Page<T> { items: T[]; total: number; page: number; page_size: number }

/** Where an operator opens a workflow in the Temporal UI. */
export function temporalLink(s: Session, workflowId: string): string {
  return `${s.temporal_ui_url.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(s.temporal_namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
