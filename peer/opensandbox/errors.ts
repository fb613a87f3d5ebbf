// OpenSandbox's error answers: `{code, message}` with the reference server's statuses. durabox's own
// failures are told in that shape, their code namespaced the way the reference namespaces its own.
import { ZodError } from 'zod';
import { DuraboxError } from '../../contract/errors.js';

export class OsError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export const badRequest = (message: string) => new OsError(400, 'SANDBOX::INVALID_PARAMETER', message);
export const notFound = (id: string) => new OsError(404, 'SANDBOX::NOT_FOUND', `sandbox ${id} not found`);
/** A call of the OpenSandbox API durabox has no counterpart for: refused by name, never a hang. */
export const unsupported = (what: string) => new OsError(501, 'DURABOX::NOT_SUPPORTED', `${what} is not supported by durabox`);

/** A Zod failure as the field it names and why. */
export function zodMessage(e: ZodError): string {
  return e.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

/** Any failure as the status and body OpenSandbox's SDKs read; `plane` picks execd's codes for its own kinds. */
export function answerOf(e: unknown, plane: 'lifecycle' | 'execd'): { status: number; body: { code: string; message: string }; unexpected: boolean } {
  if (e instanceof OsError) return { status: e.status, body: { code: e.code, message: e.message }, unexpected: false };
  if (e instanceof ZodError) return { status: 400, body: { code: plane === 'execd' ? 'INVALID_REQUEST_BODY' : 'SANDBOX::INVALID_PARAMETER', message: zodMessage(e) }, unexpected: false };
  if (e instanceof DuraboxError) {
    const code = codeOf(e.code, plane);
    return { status: e.status, body: { code, message: e.message }, unexpected: false };
  }
  return { status: 500, body: { code: plane === 'execd' ? 'RUNTIME_ERROR' : 'GENERAL::UNKNOWN_ERROR', message: 'An unexpected error occurred.' }, unexpected: true };
}

function codeOf(code: DuraboxError['code'], plane: 'lifecycle' | 'execd'): string {
  switch (code) {
    case 'session_not_found': return 'SANDBOX::NOT_FOUND';
    case 'file_not_found': return 'FILE_NOT_FOUND';
    case 'context_not_found': return 'CONTEXT_NOT_FOUND';
    case 'invalid_input':
    case 'invalid_path':
    case 'path_outside_session':
      return plane === 'execd' ? 'INVALID_REQUEST_BODY' : 'SANDBOX::INVALID_PARAMETER';
    case 'unauthenticated': return 'INVALID_API_KEY';
    default: return `DURABOX::${code.toUpperCase()}`;
  }
}
