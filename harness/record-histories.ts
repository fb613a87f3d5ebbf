// `npm run record-histories`: runs real tasks and sessions on a throw-away platform (Temporal, PostgreSQL,
// Docker, a runtime worker) and saves every workflow history to test/workflows/histories/. The replay
// test runs them through the current workflow code, so a change that would break workflows already
// running fails CI. Files hold `History.toObject` of @temporalio/proto (enums, longs and bytes as
// strings), read back with `History.fromObject`. Re-record when a workflow changes on purpose: files are
// named after the product version that recorded them, and only that version's are replaced, so histories
// of older code stay and keep proving that runs started by it still replay.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import { DuraboxClient, type Input, type OperationId } from '../client/index.js';
import { PRODUCT_VERSION, repoRoot } from '../config/paths.js';
import { generateToken, keyedHash, maskToken, newId } from '../control/security.js';
import { HASH_KEY, PlatformHarness } from './platform.js';

const out = join(repoRoot, 'test', 'workflows', 'histories');
const platform = new PlatformHarness();

/** An operation through the typed client, answered whatever its status (the recording expects some refusals). */
async function call<K extends OperationId>(token: string, id: K, input: Input<K>): Promise<{ status: number; body: any }> {
  const r = await new DuraboxClient({ baseUrl: platform.url, token }).send(id, input);
  const text = await r.text();
  return { status: r.status, body: text && r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

function expect(what: string, got: { status: number; body: unknown }, status: number): void {
  if (got.status !== status) throw new Error(`${what}: expected ${status}, got ${got.status} ${JSON.stringify(got.body)}`);
}

try {
  // Payloads plain (no DURABOX_PAYLOAD_KEY): the replay reads histories without the platform's keys.
  await platform.start({ settings: { DURABOX_PAYLOAD_KEY: '' } });
  await platform.startWorker('recorder');
  const admin = (await platform.api.deps.accounts.byUsername('admin'))!;
  const token = generateToken();
  await platform.api.deps.accounts.createToken({ id: newId('tok'), accountId: admin.id, name: 'recorder', tokenHash: keyedHash(HASH_KEY, token), masked: maskToken(token), generated: true });

  // Tasks: a result, a non-zero exit, a timeout, a cancel, an echo, a terminal command in a session.
  expect('pythonExec', await call(token, 'createTask', { body: { capability: 'pythonExec', input: { code: 'print(1)' }, mode: 'sync' } }), 200);
  expect('pythonExec exit 3', await call(token, 'createTask', { body: { capability: 'pythonExec', input: { code: 'import sys; sys.exit(3)' }, mode: 'sync' } }), 200);
  expect('pythonExec timeout', await call(token, 'createTask', { body: { capability: 'pythonExec', input: { code: 'import time; time.sleep(5)' }, timeout_ms: 1000, mode: 'sync' } }), 504);
  const slow = await call(token, 'createTask', { body: { capability: 'pythonExec', input: { code: 'import time; time.sleep(30)' }, mode: 'async' } });
  expect('async task', slow, 202);
  await new Promise((r) => setTimeout(r, 1500));
  expect('cancel', await call(token, 'cancelTask', { id: slow.body.task_id }), 200);
  expect('echo', await call(token, 'echo', { body: { message: 'hi' } }), 200);
  const term = await call(token, 'createTask', { body: { capability: 'terminalExec', input: { command: 'echo task' }, mode: 'sync' } });
  expect('terminalExec task', term, 200);
  expect('terminalExec task, unknown session', await call(token, 'createTask', { body: { capability: 'terminalExec', input: { command: 'true', session_id: 'sess_nope' }, mode: 'sync' } }), 404);

  // A session: created by its first command, commands past continue-as-new (5 per run in the harness),
  // a busy refusal, a timed-out command, file calls, then closed.
  const first = await call(token, 'terminalCommand', { body: { command: 'echo start > notes.txt' } });
  expect('new session', first, 200);
  const sid = first.body.session_id as string;
  for (let i = 0; i < 6; i++) expect(`command ${i}`, await call(token, 'terminalCommand', { body: { command: `echo ${i} >> notes.txt`, session_id: sid } }), 200);
  const [slowCmd, busy] = await Promise.all([
    call(token, 'terminalCommand', { body: { command: 'sleep 1', session_id: sid } }),
    new Promise((r) => setTimeout(r, 300)).then(() => call(token, 'terminalCommand', { body: { command: 'true', session_id: sid } })),
  ]);
  expect('slow command', slowCmd, 200);
  expect('busy', busy, 409);
  expect('timed-out command', await call(token, 'terminalCommand', { body: { command: 'sleep 5', session_id: sid, timeout_ms: 500 } }), 504);
  expect('upload', await call(token, 'writeSessionFile', { id: sid, query: { path: 'data.bin' }, body: 'bytes' }), 201);
  expect('read', await call(token, 'readSessionFile', { id: sid, query: { path: 'notes.txt' } }), 200);
  expect('list', await call(token, 'readSessionFile', { id: sid, query: { path: '/workspace' } }), 200);
  expect('delete file', await call(token, 'deleteSessionFile', { id: sid, query: { path: 'data.bin' } }), 204);
  expect('close', await call(token, 'deleteSession', { id: sid }), 204);
  // The code interpreter: a one-shot cell, then a session with its default context, a named context,
  // a cell in it, and the context deleted.
  expect('runCode once', await call(token, 'createTask', { body: { capability: 'runCode', input: { code: '1+1' }, mode: 'sync' } }), 200);
  const coder = await call(token, 'terminalCommand', { body: { command: 'true' } });
  expect('session for code', coder, 200);
  const csid = coder.body.session_id as string;
  expect('default context', await call(token, 'runCode', { body: { session_id: csid, code: 'x = 1' } }), 200);
  const ctx = await call(token, 'createContext', { id: csid, body: { language: 'javascript' } });
  expect('new context', ctx, 201);
  expect('cell in context', await call(token, 'runCode', { body: { session_id: csid, context_id: ctx.body.context_id, code: '1 + 1' } }), 200);
  expect('runCode task in session', await call(token, 'createTask', { body: { capability: 'runCode', input: { code: 'x', session_id: csid }, mode: 'sync' } }), 200);
  expect('delete context', await call(token, 'deleteContext', { id: csid, context_id: ctx.body.context_id }), 204);
  expect('close code session', await call(token, 'deleteSession', { id: csid }), 204);
  // A session checkpointed, paused when idle (as if DURABOX_SESSION_PAUSE_AFTER_SEC=2), resumed by its
  // next command, checkpointed again and closed.
  const policy = platform.api.deps.api.session;
  const pauseAfter = policy.pauseAfterSec;
  policy.pauseAfterSec = 2;
  const pausing = await call(token, 'terminalCommand', { body: { command: 'echo kept > kept.txt' } }).finally(() => { policy.pauseAfterSec = pauseAfter; });
  expect('session to pause', pausing, 200);
  const psid = pausing.body.session_id as string;
  for (let i = 0; (await call(token, 'getSession', { id: psid })).body.status !== 'paused'; i++) {
    if (i > 300) throw new Error('the session never paused');
    await new Promise((r) => setTimeout(r, 100));
  }
  expect('resumed', await call(token, 'terminalCommand', { body: { command: 'echo more >> kept.txt', session_id: psid } }), 200);
  await new Promise((r) => setTimeout(r, 2500));
  expect('close resumed session', await call(token, 'deleteSession', { id: psid }), 204);
  // A session left to its lease.
  const leased = await call(token, 'terminalCommand', { body: { command: 'true', lease_ttl_sec: 1 } });
  expect('leased session', leased, 200);
  const client = platform.api.deps.client;
  await client.workflow.getHandle(`session-${admin.id}-${leased.body.session_id}`).result();

  mkdirSync(out, { recursive: true });
  const tag = `v${PRODUCT_VERSION}`;
  for (const f of readdirSync(out)) if (f.endsWith('.json') && f.includes(`-${tag}-`)) rmSync(join(out, f));
  let n = 0;
  for await (const w of client.workflow.list({ query: `ExecutionStatus != 'Running'` })) {
    const history = await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
    const name = `${w.type}-${tag}-${String(++n).padStart(2, '0')}.json`;
    const json = proto.temporal.api.history.v1.History.toObject(proto.temporal.api.history.v1.History.fromObject(history), { longs: String, enums: String, bytes: String });
    writeFileSync(join(out, name), `${JSON.stringify(json)}\n`);
  }
  console.log(`saved ${n} histories in ${out}`);
} finally {
  await platform.stop();
}
