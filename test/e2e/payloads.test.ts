// What Temporal stores is sealed: task inputs and results, session commands and their output, memos.
// Read with a client that has no key (as the Temporal server, its database or its UI see them), a
// history shows none of it; the API's codec endpoint opens it for a logged-in admin only, and answers
// the Temporal UI's origin with CORS.
import assert from 'node:assert/strict';
import { Client } from '@temporalio/client';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { ENCRYPTED_ENCODING } from '../../temporal/codec.js';
import { payloadsIn } from './support/history.js';
import { eventually } from './support/docker.js';
import { CONTROL_TASK_QUEUE } from '../../contract/queues.js';
import { SA_ACCOUNT } from '../../contract/search-attributes.js';
import { toWire, type WirePayload } from '../../api/handlers/codec.js';

/** Every payload in a history, as the Temporal UI sends them to a codec endpoint. */
const payloadsOf = (history: unknown): WirePayload[] => payloadsIn(history).map(toWire);

const rawText = (payloads: WirePayload[]) => payloads.map((p) => Buffer.from(p.data ?? '', 'base64').toString('latin1') + Object.values(p.metadata ?? {}).map((m) => Buffer.from(m, 'base64').toString('latin1')).join('')).join('\n');

describe('payloads are sealed before they reach Temporal', function () {
  this.timeout(60_000);
  let token: string;
  let keyless: Client;
  before(async () => {
    token = await newToken();
    keyless = new Client({ connection: platform.api.deps.connection, namespace: platform.config.temporal.namespace });
  });

  const marker = `sealed-${process.pid}-${Date.now()}`;

  it('a task\'s code and output, and a session\'s command, output and memo, are ciphertext in the history; the codec endpoint opens them for an admin', async () => {
    const task = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: `print("${marker}-out")  # ${marker}-code` }, mode: 'sync' } });
    assert.equal(task.status, 200, JSON.stringify(task.body));
    assert.equal(task.body.result.output, `${marker}-out\n`, 'the caller still reads its result in the clear');
    const session = await call('POST', '/api/v1/commands/terminal', { token, body: { command: `echo ${marker}-term` } });
    assert.equal(session.status, 200, JSON.stringify(session.body));
    assert.equal(session.body.stdout, `${marker}-term\n`);

    const account = (await call('GET', '/api/v1/console/session', { cookie: await login() })).body.account.account_id as string;
    for (const workflowId of [task.body.task_id, platform.api.deps.sessions.workflowId(account, session.body.session_id)]) {
      const history = await keyless.workflow.getHandle(workflowId).fetchHistory();
      const payloads = payloadsOf(history);
      assert.ok(payloads.length >= 2, `${workflowId} has payloads`);
      for (const p of payloads) assert.equal(Buffer.from(p.metadata!.encoding, 'base64').toString(), ENCRYPTED_ENCODING, `${workflowId}: every payload is sealed: ${JSON.stringify(p)}`);
      assert.ok(!rawText(payloads).includes(marker), `${workflowId}: no plaintext in the stored history`);
      assert.ok(!JSON.stringify(history).includes(marker));
      const d = await keyless.workflow.getHandle(workflowId).describe().catch(() => undefined);
      assert.ok(!JSON.stringify(d?.raw ?? {}).includes(marker), 'nor in the memo');

      // The Temporal UI's call: the admin's login cookie, from the UI's origin.
      const cookie = await login();
      const opened = await call('POST', '/api/v1/codec/decode', { cookie, body: { payloads }, headers: { origin: new URL(platform.config.temporal.uiUrl).origin, 'x-namespace': 'default' } });
      assert.equal(opened.status, 200, JSON.stringify(opened.body).slice(0, 300));
      assert.equal(opened.headers.get('access-control-allow-origin'), new URL(platform.config.temporal.uiUrl).origin);
      assert.equal(opened.headers.get('access-control-allow-credentials'), 'true');
      assert.ok(rawText(opened.body.payloads).includes(marker), 'opened, the history shows the work');
      assert.ok(opened.body.payloads.every((p: WirePayload) => Buffer.from(p.metadata!.encoding, 'base64').toString() !== ENCRYPTED_ENCODING));
    }
  });

  it('the codec endpoint opens nothing for a non-admin or without a login, and allows no other origin', async () => {
    const history = await keyless.workflow.getHandle((await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'print(1)' }, mode: 'sync' } })).body.task_id).fetchHistory();
    const payloads = payloadsOf(history);
    assert.equal((await call('POST', '/api/v1/codec/decode', { body: { payloads } })).status, 401);
    assert.equal((await call('POST', '/api/v1/codec/decode', { token, body: { payloads } })).status, 401, 'an access token is not a login');
    const other = await platform.otherAccount('codec');
    const cookie = await login(other.account.username, 'pw');
    assert.equal((await call('POST', '/api/v1/codec/decode', { cookie, body: { payloads } })).status, 403);

    const preflight = await call('OPTIONS', '/api/v1/codec/decode', { headers: { origin: new URL(platform.config.temporal.uiUrl).origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' } });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    const elsewhere = await call('OPTIONS', '/api/v1/codec/decode', { headers: { origin: 'http://127.0.0.1:1', 'access-control-request-method': 'POST' } });
    assert.equal(elsewhere.headers.get('access-control-allow-origin'), null, 'another origin gets no CORS grant');
    const bad = await call('POST', '/api/v1/codec/decode', { cookie: await login(), body: { payloads: [{ data: 'not base64!' }] } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /data/);
  });

  it('a workflow handed a payload without the seal (someone who reaches Temporal without the key) runs none of it', async () => {
    // As a client of the namespace with no key would: a task workflow whose input is plain JSON.
    const workflowId = `task_forged_${process.pid}_${Date.now()}`;
    const handle = await keyless.workflow.start('taskWorkflow', {
      workflowId,
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ capability: 'echo', input: { message: 'forged' }, timeoutMs: 5_000, heartbeatTimeoutMs: 5_000, queueTimeoutMs: 5_000 }],
      typedSearchAttributes: [{ key: SA_ACCOUNT, value: 'acc_forged' }],
    });
    try {
      // The control worker refuses to open the input: its workflow task fails, and the workflow does nothing.
      await eventually('the workflow task to fail', async () => {
        const { events } = await handle.fetchHistory();
        return (events ?? []).some((e) => e.workflowTaskFailedEventAttributes);
      }, 20_000);
      const { events } = await handle.fetchHistory();
      assert.ok(!(events ?? []).some((e) => e.activityTaskScheduledEventAttributes || e.workflowExecutionCompletedEventAttributes), 'no step of the forged input ran');
      assert.equal((await handle.describe()).status.name, 'RUNNING');
    } finally {
      await handle.terminate('test: forged input').catch(() => undefined);
    }
  });
});
