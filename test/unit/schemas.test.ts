import assert from 'node:assert/strict';
import { DuraboxError } from '../../contract/errors.js';
import { capabilityNamed } from '../../contract/capabilities.js';
import {
  EchoInput, LoginBody, PythonExecInput, ReadImageToolInput, SOURCE_MAX_JSON_BYTES, TaskCreateBody, TaskListQuery, TerminalCommandBody,
  TerminalExecInput, TokenCreateBody, describeIssues, leaseProblem, leaseWithin, parseOr400, sessionPath, tokenStrengthBits,
} from '../../contract/schemas.js';

/** The invalid_input error parseOr400 throws for `value`, asserted to be one. */
function refusal(schema: Parameters<typeof parseOr400>[0], value: unknown, what?: string): DuraboxError {
  try {
    parseOr400(schema, value, what);
  } catch (e) {
    assert.ok(e instanceof DuraboxError, `expected a DuraboxError, got ${String(e)}`);
    assert.equal(e.code, 'invalid_input');
    assert.equal(e.status, 400);
    return e;
  }
  assert.fail(`${JSON.stringify(value)?.slice(0, 200)} was accepted`);
}

describe('request schemas', () => {
  describe('parseOr400', () => {
    it('returns the parsed body with defaults filled in', () => {
      assert.deepEqual(parseOr400(PythonExecInput, { code: 'print(1)' }), { code: 'print(1)', timeout_ms: 60_000 });
      assert.deepEqual(parseOr400(EchoInput, { message: 'hi' }), { message: 'hi', timeout_ms: 5_000 });
    });

    it('refuses a bad field with invalid_input naming the field', () => {
      const e = refusal(PythonExecInput, { code: 'print(1)', timeout_ms: 0 });
      assert.match(e.message, /^invalid request body: timeout_ms: /);
    });

    it('names a missing required field', () => {
      const e = refusal(LoginBody, { username: 'alice' });
      assert.match(e.message, /password: /);
      assert.doesNotMatch(e.message, /username/);
    });

    it('says which part of the request was wrong (the query)', () => {
      const e = refusal(TaskListQuery, { page: '0' }, 'query');
      assert.match(e.message, /^invalid query: page: /);
    });

    it('refuses a body that is not a JSON object as a whole', () => {
      for (const body of ['text', null, [1, 2], 42]) {
        const e = refusal(TaskCreateBody, body);
        assert.match(e.message, /^invalid request body: \(body\): /);
      }
    });

    it('refuses a timeout above its documented maximum', () => {
      const e = refusal(EchoInput, { message: 'hi', timeout_ms: 60_001 });
      assert.match(e.message, /timeout_ms: /);
      assert.deepEqual(parseOr400(EchoInput, { message: 'hi', timeout_ms: 60_000 }).timeout_ms, 60_000);
    });
  });

  describe('unknown fields', () => {
    it('names an unknown field of a task body as "<field>: unknown field"', () => {
      const e = refusal(TaskCreateBody, { capability: 'echo', input: { message: 'x' }, priority: 'high' });
      assert.match(e.message, /priority: unknown field/);
    });

    it('names every unknown field of a terminal command', () => {
      const e = refusal(TerminalCommandBody, { command: 'ls', cwd: '/tmp', env: {} });
      assert.match(e.message, /cwd: unknown field/);
      assert.match(e.message, /env: unknown field/);
    });

    it('names an unknown field of a login body', () => {
      const e = refusal(LoginBody, { username: 'alice', password: 'pw', remember_me: true });
      assert.match(e.message, /remember_me: unknown field/);
    });

    it('names unknown fields alongside the other problems of the same body', () => {
      const r = TerminalCommandBody.safeParse({ command: '', shell: 'bash' });
      assert.equal(r.success, false);
      const text = describeIssues(r.error!);
      assert.match(text, /command: /);
      assert.match(text, /shell: unknown field/);
    });

    it('reports at most five problems', () => {
      const r = TaskCreateBody.safeParse({ capability: 1, input: 2, mode: 3, wait_ms: 0, timeout_ms: 0, request_id: 6 });
      assert.equal(r.success, false);
      assert.equal(r.error!.issues.length, 6);
      assert.equal(describeIssues(r.error!).split('; ').length, 5);
    });
  });

  describe('sessionPath', () => {
    it('accepts relative paths and absolute paths under the session', () => {
      for (const p of ['notes.txt', 'out/chart.png', '/workspace/a/b', '/tmp/x', '..hidden', 'a/b..c', './file']) {
        assert.equal(sessionPath.safeParse(p).success, true, p);
      }
    });

    it('refuses ".." segments anywhere in the path', () => {
      for (const p of ['..', '../etc/passwd', 'a/../../etc/shadow', '/workspace/..', 'a/..', '/tmp/../root']) {
        const r = sessionPath.safeParse(p);
        assert.equal(r.success, false, p);
        assert.match(describeIssues(r.error!), /\.\. segments/);
      }
    });

    it('refuses a NUL byte', () => {
      const r = sessionPath.safeParse('notes.txt\0.png');
      assert.equal(r.success, false);
      assert.match(describeIssues(r.error!), /NUL/);
    });

    it('refuses an empty path', () => {
      assert.equal(sessionPath.safeParse('').success, false);
    });
  });

  describe('EchoInput', () => {
    it('refuses a blank message, naming the field', () => {
      for (const message of ['', '   ', '\n\t']) {
        const e = refusal(EchoInput, { message });
        assert.match(e.message, /message: message must not be blank/);
      }
    });

    it('refuses a message over 64 KiB', () => {
      const e = refusal(EchoInput, { message: 'x'.repeat(65_537) });
      assert.match(e.message, /message: /);
      assert.equal(parseOr400(EchoInput, { message: 'x'.repeat(65_536) }).message.length, 65_536);
    });
  });

  describe('source code size', () => {
    it('accepts a million ASCII characters', () => {
      assert.equal(parseOr400(PythonExecInput, { code: 'a'.repeat(1_000_000) }).code.length, 1_000_000);
    });

    it('refuses more than a million characters', () => {
      const e = refusal(PythonExecInput, { code: 'a'.repeat(1_000_001) });
      assert.match(e.message, /code: /);
    });

    it('refuses code under the character limit whose JSON encoding is over the byte budget', () => {
      const code = '\x01'.repeat(300_000); // 1.8 MB once JSON-encoded
      assert.ok(Buffer.byteLength(JSON.stringify(code)) > SOURCE_MAX_JSON_BYTES);
      const e = refusal(PythonExecInput, { code });
      assert.match(e.message, new RegExp(`code: must be at most ${SOURCE_MAX_JSON_BYTES} bytes once JSON-encoded`));
    });

    it('counts multi-byte characters by their UTF-8 size', () => {
      const e = refusal(TerminalCommandBody, { command: '€'.repeat(600_000) }); // 1.8 MB of UTF-8
      assert.match(e.message, /command: must be at most/);
      assert.equal(parseOr400(TerminalCommandBody, { command: '€'.repeat(400_000) }).command.length, 400_000);
    });

    it('refuses empty code', () => {
      const e = refusal(PythonExecInput, { code: '' });
      assert.match(e.message, /code: /);
    });
  });

  describe('strings stored in PostgreSQL', () => {
    it('refuses a NUL in a login username before it reaches the database', () => {
      const e = refusal(LoginBody, { username: 'al\0ice', password: 'pw' });
      assert.match(e.message, /username: must not contain NUL/);
    });

    it('refuses a token value with whitespace anywhere, as the reference does', () => {
      for (const token of [' secret ', 'sec ret', 'tab\there', 'new\nline', 'nbsp\u00a0x']) {
        assert.match(refusal(TokenCreateBody, { name: 'ci', token }).message, /token: token must not contain whitespace/);
      }
    });
  });

  describe('chosen token values', () => {
    it('need at least 128 bits of entropy by a conservative estimate', () => {
      for (const weak of ['secret', 'optional-manual-token', 'a'.repeat(200), 'abab'.repeat(40), '12345678901234567890123456789012345']) {
        assert.match(refusal(TokenCreateBody, { name: 'ci', token: weak }).message, /token: token must carry at least 128 bits/, weak);
      }
      for (const strong of ['3f1c9a7be2d04c6f8a15b0e9d27c4a63', 'Zq8vN2xK5pL0rT7yW3mB9c', `dbx_${'0123456789abcdef'.repeat(2)}`]) {
        assert.equal(parseOr400(TokenCreateBody, { name: 'ci', token: strong }).token, strong);
        assert.ok(tokenStrengthBits(strong) >= 128, strong);
      }
    });
  });

  describe('inputs read as the reference platform reads them', () => {
    it('refuses whitespace-only code and commands, naming the field', () => {
      assert.match(refusal(PythonExecInput, { code: ' \n\t ' }).message, /code: must not be blank/);
      assert.match(refusal(TerminalCommandBody, { command: '   ' }).message, /command: must not be blank/);
    });

    it('takes an empty or whitespace-only session_id and request_id as absent, and trims the others', () => {
      const a = parseOr400(TerminalCommandBody, { command: 'ls', session_id: '', request_id: '  ' });
      assert.equal(a.session_id, undefined);
      assert.equal(a.request_id, undefined);
      assert.ok(!('session_id' in a && a.session_id !== undefined));
      const b = parseOr400(TerminalCommandBody, { command: 'ls', session_id: ' sess_1 ', request_id: ' r1 ' });
      assert.equal(b.session_id, 'sess_1');
      assert.equal(b.request_id, 'r1');
      assert.equal(parseOr400(TaskCreateBody, { capability: 'echo', request_id: '' }).request_id, undefined);
      assert.match(refusal(TerminalExecInput, { command: 'ls', session_id: 'a b' }).message, /session_id: /);
    });

    it('matches mode without regard to case; empty means the default', () => {
      assert.equal(parseOr400(TaskCreateBody, { capability: 'echo', mode: 'SYNC' }).mode, 'sync');
      assert.equal(parseOr400(TaskCreateBody, { capability: 'echo', mode: ' Async ' }).mode, 'async');
      assert.equal(parseOr400(TaskCreateBody, { capability: 'echo', mode: '' }).mode, 'auto');
      assert.match(refusal(TaskCreateBody, { capability: 'echo', mode: 'later' }).message, /mode: /);
    });

    it('matches capability names without regard to case', () => {
      assert.equal(capabilityNamed('PYTHONEXEC'), 'pythonExec');
      assert.equal(capabilityNamed(' terminalexec '), 'terminalExec');
      assert.equal(capabilityNamed('Echo'), 'echo');
      assert.equal(capabilityNamed('python_exec'), undefined);
      assert.match(refusal(TaskCreateBody, { capability: '  ' }).message, /capability: /);
    });

    it('refuses a lease outside the configured bounds, naming them', () => {
      const bounds = { minSec: 60, maxSec: 1800 };
      assert.equal(leaseProblem(undefined, bounds), undefined);
      assert.equal(leaseProblem(60, bounds), undefined);
      assert.equal(leaseProblem(1800, bounds), undefined);
      assert.equal(leaseProblem(59, bounds), 'lease_ttl_sec must be between 60 and 1800');
      assert.equal(leaseProblem(1801, bounds), 'lease_ttl_sec must be between 60 and 1800');
      const e = refusal(leaseWithin(TerminalExecInput, bounds), { command: 'ls', lease_ttl_sec: 5 });
      assert.match(e.message, /lease_ttl_sec: lease_ttl_sec must be between 60 and 1800/);
      assert.equal(parseOr400(leaseWithin(TerminalExecInput, bounds), { command: 'ls', lease_ttl_sec: 600 }).lease_ttl_sec, 600);
    });

    it('bounds readImage as the reference does: timeout_ms 1..600000, default 60000, no blank ids', () => {
      assert.equal(parseOr400(ReadImageToolInput, { session_id: 's1', file_path: 'a.png' }).timeout_ms, 60_000);
      assert.equal(parseOr400(ReadImageToolInput, { session_id: 's1', file_path: 'a.png', timeout_ms: 600_000 }).timeout_ms, 600_000);
      assert.match(refusal(ReadImageToolInput, { session_id: 's1', file_path: 'a.png', timeout_ms: 600_001 }).message, /timeout_ms: /);
      assert.match(refusal(ReadImageToolInput, { session_id: '  ', file_path: 'a.png' }).message, /session_id: /);
      assert.match(refusal(ReadImageToolInput, { session_id: 's1', file_path: ' ' }).message, /file_path: /);
    });
  });
});
