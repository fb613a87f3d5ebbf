// The attack suite, from a compromised execution host: it holds a valid credential and the certificate
// its start report got, and turns them against the platform through the host gateway (the only way a
// host reaches Temporal). Every call it makes goes to the gateway and Temporal this test started.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { platform } from './support/hooks.js';
import { call, login, newToken } from './support/http.js';
import { eventually } from './support/docker.js';
import { HASH_KEY } from '../../harness/platform.js';
import { generateWorkerSecret, keyedHash } from '../../control/security.js';
import { createHostRequest, GATEWAY_SERVER_NAME, HostCa } from '../../temporal/certs.js';
import { hostTaskQueue, runtimeTaskQueue } from '../../contract/queues.js';
import { codecOf } from '../../temporal/codec.js';
import type { PayloadKeys } from '../../config/index.js';

interface HostIdentity { id: string; secret: string; cert: string; key: string; ca: string; address: string; payloadKeys: PayloadKeys }

/** A host as a worker becomes one: a credential, then a start report with a certificate request. */
async function registerHost(name: string, capabilities: string[] = []): Promise<HostIdentity> {
  const id = platform.workerId(name);
  const secret = generateWorkerSecret();
  await platform.api.deps.workers.putCredential({ nodeId: id, secretHash: keyedHash(HASH_KEY, secret) });
  return { id, secret, ...(await startReport(id, secret, capabilities)) };
}

/** `capabilities`: the runtimes it claims to serve (an online host serving one lets tasks of it be queued). */
async function startReport(id: string, secret: string, capabilities: string[] = []): Promise<{ cert: string; key: string; ca: string; address: string; payloadKeys: PayloadKeys }> {
  const { csr, keyPem } = await createHostRequest(id);
  const res = await fetch(`${platform.url}/api/v1/registry/heartbeat`, {
    method: 'POST',
    headers: { authorization: `Bearer ${id}:${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'start', node_name: 'compromised', executor_kind: 'docker', version: 'x', labels: {}, capabilities: capabilities.map((name) => ({ name, max_inflight: 1, inflight: 0 })), heartbeat_interval_sec: 3600, heartbeat_jitter_pct: 0, csr }),
  });
  assert.equal(res.status, 200);
  const ack = (await res.json()) as { host_certificate: { cert: string; ca: string }; temporal_address: string; payload_keys: PayloadKeys };
  assert.equal(ack.temporal_address, platform.gateway!.address, 'the host is told to reach Temporal through the gateway');
  return { cert: ack.host_certificate.cert, key: keyPem, ca: ack.host_certificate.ca, address: ack.temporal_address, payloadKeys: ack.payload_keys };
}

function connectAs(h: { cert: string; key: string; ca: string; address: string }, opts: { plaintext?: boolean; noCertificate?: boolean } = {}): Promise<NativeConnection> {
  return NativeConnection.connect({
    address: h.address,
    tls: opts.plaintext ? undefined : {
      serverRootCACertificate: Buffer.from(h.ca),
      clientCertPair: opts.noCertificate ? undefined : { crt: Buffer.from(h.cert), key: Buffer.from(h.key) },
      serverNameOverride: GATEWAY_SERVER_NAME,
    },
  });
}

/** The gRPC status a call ends with (0: it succeeded). */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;

/** An activity result as a worker writes it: JSON, sealed with the payload keys every host gets at its start. */
async function resultOf(value: unknown, keys: PayloadKeys) {
  const plain = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) };
  return { payloads: await codecOf(keys)!.encode([plain]) };
}

describe('attack suite: a compromised execution host', function () {
  this.timeout(120_000);
  const namespace = () => platform.config.temporal.namespace;
  let host: HostIdentity;
  let conn: NativeConnection | undefined;

  before(async () => {
    host = await registerHost('compromised');
    conn = await connectAs(host);
  });
  after(async () => {
    await conn?.close();
    await platform.api.deps.workers.delete(host.id);
  });

  it('workers reach Temporal through the gateway with the certificate of their start; the start command names no Temporal address', async () => {
    const main = platform.workers.get('w-main')!;
    assert.match(platform.gateway!.output(), new RegExp(`host gateway: host ${main.id} connected`));
    const token = await newToken();
    const r = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'print(6 * 7)' }, mode: 'sync' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.result.output.trim(), '42');
    assert.doesNotMatch(platform.gateway!.output(), new RegExp(`refused a call from host ${main.id}`), 'a real worker needs no call the gateway refuses');
    const created = await call('POST', '/api/v1/workers', { cookie: await login(), body: {} });
    assert.equal(created.status, 201);
    assert.doesNotMatch(created.body.command, /TEMPORAL_ADDRESS/, 'a host learns where Temporal is from its start report');
    assert.equal((await call('DELETE', `/api/v1/workers/${created.body.node_id}`, { cookie: await login() })).status, 204);
  });

  it('reads no history, lists no workflow and starts, signals, queries or cancels none', async () => {
    const token = await newToken();
    const victim = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'print("another account\'s secret")' }, mode: 'sync' } });
    assert.equal(victim.status, 200);
    const execution = { workflowId: victim.body.task_id };
    const ws = conn!.workflowService;
    const attempts: Record<string, () => Promise<unknown>> = {
      GetWorkflowExecutionHistory: () => ws.getWorkflowExecutionHistory({ namespace: namespace(), execution }),
      GetWorkflowExecutionHistoryReverse: () => ws.getWorkflowExecutionHistoryReverse({ namespace: namespace(), execution }),
      DescribeWorkflowExecution: () => ws.describeWorkflowExecution({ namespace: namespace(), execution }),
      ListWorkflowExecutions: () => ws.listWorkflowExecutions({ namespace: namespace(), query: '' }),
      CountWorkflowExecutions: () => ws.countWorkflowExecutions({ namespace: namespace(), query: '' }),
      StartWorkflowExecution: () => ws.startWorkflowExecution({ namespace: namespace(), workflowId: 'intruder', workflowType: { name: 'taskWorkflow' }, taskQueue: { name: 'durabox-control' }, requestId: 'x' }),
      SignalWorkflowExecution: () => ws.signalWorkflowExecution({ namespace: namespace(), workflowExecution: execution, signalName: 'cancel' }),
      QueryWorkflow: () => ws.queryWorkflow({ namespace: namespace(), execution, query: { queryType: 'state' } }),
      RequestCancelWorkflowExecution: () => ws.requestCancelWorkflowExecution({ namespace: namespace(), workflowExecution: execution }),
      TerminateWorkflowExecution: () => ws.terminateWorkflowExecution({ namespace: namespace(), workflowExecution: execution }),
      PollWorkflowTaskQueue: () => ws.pollWorkflowTaskQueue({ namespace: namespace(), taskQueue: { name: 'durabox-control' }, identity: host.id }),
      ListNamespaces: () => ws.listNamespaces({}),
      ListSearchAttributes: () => conn!.operatorService.listSearchAttributes({ namespace: namespace() }),
    };
    for (const [name, attempt] of Object.entries(attempts)) {
      assert.equal(await statusOf(attempt()), PERMISSION_DENIED, `${name} must be refused to a host`);
    }
    await eventually('the refusal in the gateway log', async () => platform.gateway!.output().includes(`refused a call from host ${host.id}: GetWorkflowExecutionHistory is not open to execution hosts`));
    // What a host needs still works on the same connection.
    assert.equal(await statusOf(ws.getSystemInfo({})), 0);
  });

  it('polls only its own queue and the shared runtime queues, in the platform namespace, under its own name', async () => {
    const ws = conn!.workflowService;
    const other = platform.workers.get('w-main')!.id;
    const poll = (queue: string, identity = host.id, ns = namespace()) =>
      statusOf(conn!.withDeadline(Date.now() + 1500, () => ws.pollActivityTaskQueue({ namespace: ns, taskQueue: { name: queue }, identity })));
    assert.equal(await poll(hostTaskQueue(other)), PERMISSION_DENIED, "another host's session steps");
    assert.equal(await poll('durabox-control'), PERMISSION_DENIED, "the control worker's queue");
    assert.equal(await poll(hostTaskQueue(host.id), other), PERMISSION_DENIED, 'polling under another host\'s name');
    assert.equal(await poll(hostTaskQueue(host.id), host.id, 'another-namespace'), PERMISSION_DENIED, 'another namespace');
    const own = await poll(hostTaskQueue(host.id));
    assert.ok(own !== PERMISSION_DENIED && own !== UNAUTHENTICATED, `its own queue is open (status ${own})`);
  });

  it("completes, fails, cancels or heartbeats only the activities it polled itself: another host's task token is refused", async () => {
    // This host claims the python runtime and w-main stands aside: the account's task lands on its poll.
    const victim = await registerHost('poller', ['python']);
    const victimConn = await connectAs(victim);
    const thief = await registerHost('thief');
    const thiefConn = await connectAs(thief);
    await platform.workers.get('w-main')!.stop();
    try {
      const token = await newToken();
      const submitted = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'print("the real output")' }, mode: 'async' } });
      assert.equal(submitted.status, 202);
      const ws = victimConn.workflowService;
      let taskToken: Uint8Array | null | undefined;
      for (const until = Date.now() + 60_000; !taskToken?.length && Date.now() < until;) {
        const polled = await victimConn.withDeadline(Date.now() + 20_000, () => ws.pollActivityTaskQueue({ namespace: namespace(), taskQueue: { name: runtimeTaskQueue('python') }, identity: victim.id }));
        taskToken = polled.taskToken;
      }
      assert.ok(taskToken?.length, 'the host polled the task');
      const forged = { output: 'forged by another host\n', stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false };
      const tws = thiefConn.workflowService;
      const forgedResult = await resultOf(forged, thief.payloadKeys);
      const byId = { namespace: namespace(), workflowId: submitted.body.task_id, activityId: '1', identity: thief.id };
      const attempts: Record<string, () => Promise<unknown>> = {
        RecordActivityTaskHeartbeat: () => tws.recordActivityTaskHeartbeat({ namespace: namespace(), taskToken, identity: thief.id }),
        RecordActivityTaskHeartbeatById: () => tws.recordActivityTaskHeartbeatById(byId),
        RespondActivityTaskCompletedById: () => tws.respondActivityTaskCompletedById({ ...byId, result: forgedResult }),
        RespondActivityTaskFailedById: () => tws.respondActivityTaskFailedById({ ...byId, failure: { message: 'forged' } }),
        RespondActivityTaskCanceledById: () => tws.respondActivityTaskCanceledById(byId),
        RespondActivityTaskCompleted: () => tws.respondActivityTaskCompleted({ namespace: namespace(), taskToken, identity: thief.id, result: forgedResult }),
        RespondActivityTaskFailed: () => tws.respondActivityTaskFailed({ namespace: namespace(), taskToken, identity: thief.id, failure: { message: 'forged' } }),
        RespondActivityTaskCanceled: () => tws.respondActivityTaskCanceled({ namespace: namespace(), taskToken, identity: thief.id }),
        'a token no poll handed out': () => tws.respondActivityTaskCompleted({ namespace: namespace(), taskToken: Buffer.from('forged token'), identity: thief.id, result: forgedResult }),
        'its own poll\'s token under another host\'s name': () => ws.recordActivityTaskHeartbeat({ namespace: namespace(), taskToken, identity: thief.id }),
      };
      const got: Record<string, number> = {};
      for (const [name, attempt] of Object.entries(attempts)) got[name] = await statusOf(attempt());
      assert.deepEqual(got, Object.fromEntries(Object.keys(attempts).map((k) => [k, PERMISSION_DENIED])), 'every report on a task another host polled is refused');
      await eventually('the refusal in the gateway log', async () => platform.gateway!.output().includes(`refused a call from host ${thief.id}: RespondActivityTaskCompleted`));
      // The host that polled it heartbeats and completes it; the account reads that result, not the forged one.
      assert.equal(await statusOf(ws.recordActivityTaskHeartbeat({ namespace: namespace(), taskToken, identity: victim.id })), 0);
      const real = { ...forged, output: 'the real output\n' };
      assert.equal(await statusOf(ws.respondActivityTaskCompleted({ namespace: namespace(), taskToken, identity: victim.id, result: await resultOf(real, victim.payloadKeys) })), 0);
      const done = await eventually('the task to finish', async () => {
        const g = await call('GET', `/api/v1/tasks/${submitted.body.task_id}`, { token });
        return g.body.status === 'succeeded' && g.body;
      });
      assert.equal(done.result.output, 'the real output\n');
    } finally {
      await thiefConn.close();
      await victimConn.close();
      await platform.api.deps.workers.delete(thief.id);
      await platform.api.deps.workers.delete(victim.id);
      if (!platform.workers.get('w-main')) await platform.startWorker('w-main');
    }
  });

  it('without a certificate, with one from another CA, or in plaintext, it gets no connection at all', async () => {
    await assert.rejects(connectAs(host, { noCertificate: true }), 'no client certificate');
    await assert.rejects(connectAs(host, { plaintext: true }), 'plaintext');
    const dir = mkdtempSync(join(tmpdir(), 'durabox-foreign-ca-'));
    const foreign = await HostCa.load({ cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') }, true);
    const { csr, keyPem } = await createHostRequest(host.id);
    const secretHash = (await platform.api.deps.workers.secretHashOf(host.id))!;
    const forged = await foreign.issueHost(csr, host.id, secretHash);
    await assert.rejects(connectAs({ ...host, cert: forged, key: keyPem }), 'a certificate of another CA, even for the right host and credential');
  });

  it('a replaced or deleted credential takes new work away at once, connections it holds included', async () => {
    const victim = await registerHost('revoked');
    const held = await connectAs(victim);
    try {
      assert.equal(await statusOf(held.workflowService.getSystemInfo({})), 0);
      // Replacing the credential voids the certificates issued under the old one.
      await platform.api.deps.workers.putCredential({ nodeId: victim.id, secretHash: keyedHash(HASH_KEY, generateWorkerSecret()) });
      await eventually('the held connection refused', async () => (await statusOf(held.workflowService.getSystemInfo({}))) === UNAUTHENTICATED, 15_000);
      const poll = held.withDeadline(Date.now() + 5000, () => held.workflowService.pollActivityTaskQueue({ namespace: namespace(), taskQueue: { name: hostTaskQueue(victim.id) }, identity: victim.id }));
      assert.equal(await statusOf(poll), UNAUTHENTICATED, 'no new work');
      const fresh = await startReport(victim.id, victim.secret).catch((e: Error) => e);
      assert.ok(fresh instanceof Error, 'the old secret no longer gets a certificate');
      // A certificate of the new credential works until an admin deletes the credential.
      const secret = generateWorkerSecret();
      await platform.api.deps.workers.putCredential({ nodeId: victim.id, secretHash: keyedHash(HASH_KEY, secret) });
      const renewed = await connectAs({ ...victim, ...(await startReport(victim.id, secret)) });
      try {
        assert.equal(await statusOf(renewed.workflowService.getSystemInfo({})), 0);
        assert.equal((await call('DELETE', `/api/v1/workers/${victim.id}`, { cookie: await login() })).status, 204);
        await eventually('the renewed connection refused', async () => (await statusOf(renewed.workflowService.getSystemInfo({}))) === UNAUTHENTICATED, 15_000);
      } finally {
        await renewed.close();
      }
    } finally {
      await held.close();
    }
  });
});
