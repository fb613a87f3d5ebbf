// The one error table. Every failure durabox reports has a code here; its HTTP status, whether Temporal
// may retry the step that raised it, and its default message all derive from this table: the
// workflows' non-retryable lists, REST statuses and MCP error texts (`<code>: <message>`).
// Pure: workflow code imports this file.

export interface ErrorSpec {
  /** The HTTP status a REST call answers with. */
  status: number;
  /** Whether an activity failing with this code may be retried by Temporal (infrastructure, not the user). */
  retryable: boolean;
  /** The message used when the raiser gives none. */
  message: string;
}

export const ERROR_TABLE = {
  // Requests the API refuses before any work starts.
  invalid_input: { status: 400, retryable: false, message: 'invalid input' },
  unauthenticated: { status: 401, retryable: false, message: 'not authenticated' },
  forbidden: { status: 403, retryable: false, message: 'forbidden' },
  not_found: { status: 404, retryable: false, message: 'not found' },
  method_not_allowed: { status: 405, retryable: false, message: 'method not allowed' },
  conflict: { status: 409, retryable: false, message: 'conflict' },
  gone: { status: 410, retryable: false, message: 'gone' },
  payload_too_large: { status: 413, retryable: false, message: 'request body too large' },
  unsupported_media_type: { status: 415, retryable: false, message: 'unsupported content type: send application/json' },
  rate_limited: { status: 429, retryable: false, message: 'too many requests' },
  /** One of the account's limits (contract/limits.ts) is reached; the answer names it. */
  quota_exceeded: { status: 429, retryable: false, message: 'account limit reached' },
  internal: { status: 500, retryable: true, message: 'internal error' },
  not_ready: { status: 503, retryable: true, message: 'not ready' },

  // How an execution can end other than with a result.
  canceled: { status: 409, retryable: false, message: 'task was canceled' },
  timeout: { status: 504, retryable: false, message: 'timed out' },
  no_capacity: { status: 429, retryable: false, message: 'no worker had capacity for the work in time' },
  /** A host that already holds DURABOX_HOST_MAX_SESSIONS refuses a new one; the session tries another, then ends as no_capacity. */
  host_full: { status: 429, retryable: false, message: 'the host holds its most sessions' },
  no_worker: { status: 503, retryable: false, message: 'no online worker serves the runtime' },
  execution_failed: { status: 502, retryable: true, message: 'execution failed' },
  /** The sandbox died under the execution for a reason that is not the user's code (Docker, the host). */
  sandbox_broken: { status: 502, retryable: true, message: 'the sandbox died under the execution' },

  // Templates (spec §3.2).
  template_not_found: { status: 404, retryable: false, message: 'template not found' },
  /** The template is still building, or its build failed: nothing runs on it yet. */
  template_not_ready: { status: 409, retryable: false, message: 'template is not ready' },
  /** The host that took the work could not build the template's image: it never runs on the base instead. */
  template_unavailable: { status: 502, retryable: false, message: 'the template could not be built on the host' },

  // Sessions and their files.
  session_not_found: { status: 404, retryable: false, message: 'session not found' },
  session_busy: { status: 409, retryable: false, message: 'session is busy' },
  session_lost: { status: 502, retryable: false, message: 'the host holding the session is gone' },
  /** A step found the session's container gone (removed, or its Docker daemon restarted): the session moves from its checkpoint, else this is session_lost. */
  container_gone: { status: 502, retryable: false, message: 'the session\'s container is gone' },
  /** A host wrote to a session that has moved to a newer container since: its write is refused (fencing). */
  fenced: { status: 409, retryable: false, message: 'the session has moved to another container' },
  context_not_found: { status: 404, retryable: false, message: 'context not found' },
  /** The account has no named snapshot of that name (another account's names are not seen). */
  snapshot_not_found: { status: 404, retryable: false, message: 'snapshot not found' },
  path_outside_session: { status: 400, retryable: false, message: 'path escapes the session' },
  invalid_path: { status: 400, retryable: false, message: 'invalid path' },
  file_not_found: { status: 404, retryable: false, message: 'no such file' },
  file_too_large: { status: 413, retryable: false, message: 'file too large' },

  // The workbench's streams into a session (ports, browser, terminals).
  /** Nothing in the session listens on the port asked for. */
  port_not_listening: { status: 404, retryable: false, message: 'nothing in the session listens on that port' },
  /** The session's template has no browser, or its browser did not start. */
  browser_unavailable: { status: 409, retryable: false, message: 'the session has no browser' },
  /** The session's container cannot carry streams (made before the workbench, or its agent does not answer). */
  relay_unavailable: { status: 409, retryable: false, message: 'the session cannot open streams now' },
  /** The host holding the session does not answer on its tunnel address. */
  host_unreachable: { status: 503, retryable: true, message: 'the host holding the session cannot be reached' },

  // The session's browser (workbench; docs/workbench/browser.md).
  /** The element a selector names did not reach the state asked for within timeout_ms. */
  selector_timeout: { status: 422, retryable: false, message: 'the selector matched no element in time' },
  /** The page could not be loaded (net::ERR_…, or it did not load within timeout_ms). */
  navigation_failed: { status: 422, retryable: false, message: 'navigation failed' },
  /** The expression threw in the page, or never settled within timeout_ms. */
  script_error: { status: 422, retryable: false, message: 'the expression failed in the page' },
  /** A screenshot or PDF larger than the browser tools answer (a selector or the viewport is smaller). */
  capture_too_large: { status: 413, retryable: false, message: 'the capture is too large' },
  // File tools (docs/workbench/file-tools.md).
  /** A move, copy or mkdir whose target exists (a move or copy without overwrite, a mkdir without parents). */
  file_exists: { status: 409, retryable: false, message: 'the target path exists' },
  /** An edit's old_text is not in the file. */
  edit_no_match: { status: 422, retryable: false, message: 'old_text was not found in the file' },
  /** An edit's old_text is in the file more than once and replace_all was not asked for. */
  edit_ambiguous: { status: 422, retryable: false, message: 'old_text appears more than once in the file' },
  /** A glob or grep pattern the container's tools refuse. */
  invalid_pattern: { status: 400, retryable: false, message: 'invalid pattern' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

/** Codes a retry cannot change: the workflows give these to Temporal as non-retryable error types. */
export const NON_RETRYABLE_CODES: ErrorCode[] = ERROR_CODES.filter((c) => !ERROR_TABLE[c].retryable);

/** Non-retryable codes that still mean something broke (a host gone), not an answer to the caller's request. */
const PLATFORM_TROUBLE: ErrorCode[] = ['session_lost', 'container_gone'];

/**
 * Whether a failure with this code is an ordinary outcome of the caller's request (their code timed out,
 * an input was refused, a session was busy): logged at info without a stack, never as the platform's fault.
 */
export function isOrdinaryOutcome(code: unknown): code is ErrorCode {
  return isErrorCode(code) && !ERROR_TABLE[code].retryable && !PLATFORM_TROUBLE.includes(code);
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_TABLE, code);
}

/** The table's row for a code; a code the table does not know is an execution failure. */
export function errorSpec(code: string | undefined): ErrorSpec {
  return isErrorCode(code) ? ERROR_TABLE[code] : ERROR_TABLE.execution_failed;
}

/** A failure with its code; `details` travel with it (a timed-out command's output, say). */
export class DuraboxError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message?: string, readonly details?: Record<string, unknown>) {
    super(message ?? ERROR_TABLE[code].message);
    this.code = code;
  }

  get status(): number {
    return ERROR_TABLE[this.code].status;
  }
}

/** How an MCP tool result states a failure: the code, then the message, never an HTTP status. */
export function mcpErrorText(code: string, message: string): string {
  return `${code}: ${message}`;
}
