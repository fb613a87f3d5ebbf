import assert from 'node:assert/strict';
import {
  DuraboxError, ERROR_CODES, ERROR_TABLE, NON_RETRYABLE_CODES, errorSpec, isErrorCode, mcpErrorText, type ErrorCode,
} from '../../contract/errors.js';

describe('error table', () => {
  it('answers every code with a 4xx or 5xx HTTP status and a non-empty default message', () => {
    assert.ok(ERROR_CODES.length > 0);
    for (const code of ERROR_CODES) {
      const { status, message } = ERROR_TABLE[code];
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} has status ${status}`);
      assert.ok(message.trim().length > 0, `${code} has no default message`);
    }
  });

  it('answers the codes clients rely on with their documented statuses', () => {
    const expected: Partial<Record<ErrorCode, number>> = {
      invalid_input: 400, unauthenticated: 401, forbidden: 403, not_found: 404, rate_limited: 429,
      timeout: 504, no_capacity: 429, no_worker: 503, session_busy: 409, session_not_found: 404,
      file_too_large: 413, path_outside_session: 400,
    };
    for (const [code, status] of Object.entries(expected)) assert.equal(ERROR_TABLE[code as ErrorCode].status, status, code);
  });

  describe('NON_RETRYABLE_CODES', () => {
    it('holds the codes a retry cannot change: bad input, timeouts, busy sessions, cancellation', () => {
      for (const code of ['invalid_input', 'timeout', 'session_busy', 'canceled', 'no_capacity', 'no_worker', 'session_lost', 'file_too_large', 'unauthenticated'] as const) {
        assert.ok(NON_RETRYABLE_CODES.includes(code), `${code} should be non-retryable`);
      }
    });

    it('leaves out infrastructure failures Temporal should retry', () => {
      for (const code of ['execution_failed', 'sandbox_broken', 'internal', 'not_ready'] as const) {
        assert.ok(!NON_RETRYABLE_CODES.includes(code), `${code} should be retryable`);
      }
    });

    it('holds exactly the table\'s codes marked not retryable, each once', () => {
      assert.equal(new Set(NON_RETRYABLE_CODES).size, NON_RETRYABLE_CODES.length);
      const notRetryable = Object.entries(ERROR_TABLE).filter(([, spec]) => spec.retryable === false).map(([code]) => code).sort();
      assert.deepEqual([...NON_RETRYABLE_CODES].sort(), notRetryable);
    });
  });

  describe('errorSpec', () => {
    it('gives a known code its own row', () => {
      assert.deepEqual(errorSpec('session_busy'), { status: 409, retryable: false, message: 'session is busy' });
    });

    it('treats an unknown or missing code as execution_failed', () => {
      assert.deepEqual(errorSpec('disk_on_fire'), ERROR_TABLE.execution_failed);
      assert.deepEqual(errorSpec(undefined), ERROR_TABLE.execution_failed);
      assert.deepEqual(errorSpec(''), ERROR_TABLE.execution_failed);
    });

    it('does not take inherited object properties for codes', () => {
      assert.equal(isErrorCode('toString'), false);
      assert.equal(isErrorCode('__proto__'), false);
      assert.deepEqual(errorSpec('constructor'), ERROR_TABLE.execution_failed);
      assert.equal(isErrorCode(404), false);
    });
  });

  describe('DuraboxError', () => {
    it('carries its code, the table\'s default message and status', () => {
      const e = new DuraboxError('session_not_found');
      assert.ok(e instanceof Error);
      assert.equal(e.code, 'session_not_found');
      assert.equal(e.message, 'session not found');
      assert.equal(e.status, 404);
    });

    it('keeps a message and details given by the raiser', () => {
      const e = new DuraboxError('timeout', 'command ran past 5000 ms', { stdout: 'partial' });
      assert.equal(e.message, 'command ran past 5000 ms');
      assert.equal(e.status, 504);
      assert.deepEqual(e.details, { stdout: 'partial' });
    });
  });

  describe('mcpErrorText', () => {
    it('reads "<code>: <message>"', () => {
      assert.equal(mcpErrorText('session_busy', 'session is busy'), 'session_busy: session is busy');
    });

    it('never states an HTTP status', () => {
      for (const code of ERROR_CODES) {
        const text = mcpErrorText(code, ERROR_TABLE[code].message);
        assert.ok(text.startsWith(`${code}: `), text);
        assert.ok(!text.includes(String(ERROR_TABLE[code].status)), `${text} mentions its status`);
      }
    });
  });
});
