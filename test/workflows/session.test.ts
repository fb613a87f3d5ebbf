// sessionWorkflow against a real (local) Temporal server with mocked host activities, driven the way
// control/session-service.ts drives it: Update-with-Start for the creating command, execUpdate /
// fileUpdate / closeUpdate afterwards, stateQuery for reads.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { HostActivities, SessionStartActivities } from '../../activities/terminal.js';
import type {
  CellResult, CheckpointResult, FileOp, FileResult, HostExecResult, SessionExecRequest, SessionSummary, SessionWorkflowInput, TerminalExecOutput,
} from '../../contract/messages.js';
import { CONTROL_TASK_QUEUE, hostTaskQueue, runtimeTaskQueue } from '../../contract/queues.js';
import { SA_ERROR, SA_HOST } from '../../contract/search-attributes.js';
import { sessionStartOperation, sessionWorkflowId } from '../../control/session-service.js';
import { createControlActivities, type ControlDeps } from '../../control/activities.js';
import { grantRefusal } from '../../control/host-grants.js';
import { KEPT_ANSWER_BYTES } from '../../workflows/session-machine.js';

/** The key the control worker of these tests signs host grants with (its real activity, no platform around it). */
const GRANT_KEY = 'workflow-test-grant-key';
const { signSnapshotGrant } = createControlActivities({ hashKey: GRANT_KEY } as ControlDeps);
import {
  closeUpdate, codeUpdate, contextsQuery, createContextUpdate, deleteContextUpdate, execUpdate, fileUpdate, HOST_FULL_ATTEMPTS, MAX_CONTEXTS_PER_SESSION,
  leaseUpdate, pauseUpdate, readyUpdate, resumeUpdate, sessionWorkflow, stateQuery, templateQuery, usedSignal,
} from '../../workflows/session.js';
import {
  deferred, eventually, heartbeatUntil, runsOf, startTestEnv, startWorker, stopAll, terminateRunning,
  type RunningWorker,
} from './support/env.js';

const ACCOUNT = 'acct_wf_tests';
const HOST_ID = 'h1';
const HOST_QUEUE = hostTaskQueue(HOST_ID);
/** A host queue no worker polls: the host holding such a session is gone. */
const GONE_HOST_QUEUE = hostTaskQueue('gone');

type CreateReq = Parameters<SessionStartActivities['createSessionContainer']>[0];
type ExecReq = Parameters<HostActivities['sessionExec']>[0];
type FileReq = Parameters<HostActivities['sessionFile']>[0];
type CellReq = Parameters<HostActivities['sessionCell']>[0];
type CheckpointReq = Parameters<HostActivities['checkpointSession']>[0];

/** What the fake interpreter answers: the cell's code echoed, with its context. */
const cellRan = (req: CellReq): CellResult => ({
  results: [{ is_main_result: true, text: `${req.language}@${req.contextId}: ${req.code}` }],
  logs: { stdout: [], stderr: [] },
  execution_count: 1,
  timed_out: false,
  context_restarted: false,
  stdout_truncated: false,
  stderr_truncated: false,
  results_truncated: false,
});

/** What the fake shell prints for a command. */
const ran = (command: string, over: Partial<HostExecResult> = {}): HostExecResult => ({
  stdout: `ran: ${command}\n`, stderr: '', exit_code: 0, stdout_truncated: false, stderr_truncated: false, timed_out: false, ...over,
});

/** What the fake host answers for a file operation. */
function fakeFile(op: FileOp): FileResult {
  switch (op.op) {
    case 'write': return { op: 'write', path: op.path, size: Buffer.from(op.contentBase64, 'base64').length };
    case 'read': return { op: 'read', path: op.path, size: 2, contentBase64: Buffer.from('hi').toString('base64') };
    case 'list': return { op: 'list', path: op.path, entries: [] };
    case 'delete': return { op: 'delete', path: op.path, deleted: true };
    case 'glob': return { op: 'glob', path: op.path, matches: [], truncated: false };
    case 'grep': return { op: 'grep', path: op.path, matches: [], truncated: false };
    case 'edit': return { op: 'edit', path: op.path, replacements: 1, size: 3 };
    case 'move': case 'copy': return { op: op.op, path: op.path, to: op.to };
    case 'mkdir': return { op: 'mkdir', path: op.path, created: true };
  }
}

describe('sessionWorkflow', function () {
  this.timeout(30_000);

  let env: TestWorkflowEnvironment;
  let workers: RunningWorker[] = [];
  let started: WorkflowHandle[] = [];

  // What the fake hosts saw, and how they behave in the current test.
  let creates: (CreateReq & { queue: string })[];
  let execs: (ExecReq & { queue: string })[];
  let files: FileReq[];
  let cells: CellReq[];
  let drops: string[];
  let removes: string[];
  let checkpoints: CheckpointReq[];
  let checkpointImpl: (req: CheckpointReq) => Promise<CheckpointResult>;
  let dropped: string[];
  let removeQueues: string[];
  let hostQueueFor: (sessionId: string, req: CreateReq) => string;
  let createImpl: (req: CreateReq) => Promise<void>;
  let execImpl: (req: ExecReq) => Promise<HostExecResult>;
  let fileImpl: (req: FileReq) => Promise<FileResult>;
  /** What a restore left out of the checkpoint, as the host answers it. */
  let refusedByRestore: { refused?: string[]; refused_count?: number };
  /** How long ago a host last reported, as the registry would answer (null: gone, or never seen). */
  let silentImpl: (hostId: string) => number | null;
  let silentAsked: string[];

  const containerOf = (sessionId: string) => `ctr-${sessionId}`;
  let hostActivities: HostActivities;

  before(async function () {
    this.timeout(120_000);
    env = await startTestEnv();
    const start: SessionStartActivities = {
      async createSessionContainer(req) {
        creates.push({ ...req, queue: Context.current().info.taskQueue });
        await createImpl(req);
        const hostQueue = hostQueueFor(req.sessionId, req);
        const taken = { hostQueue, hostId: hostQueue.replace('durabox-host-', ''), containerId: `${containerOf(req.sessionId)}${req.restore ? '-restored' : ''}` };
        const restored = req.restore ? { restored: { digest: 'd'.repeat(64), raw_bytes: 10240, ...refusedByRestore } } : {};
        // A durable first command answers with its stored effect, as a host does.
        const stored: { checkpoint?: CheckpointResult } = req.durable ? { checkpoint: { outcome: 'saved', kind: 'delta', seq: 0, digest: 'f'.repeat(64), raw_bytes: 10240, bytes: 100 } } : {};
        return req.firstCommand ? { ...taken, ...restored, first: { ...ran(req.firstCommand.command), ...stored } } : { ...taken, ...restored };
      },
    };
    const host: HostActivities = hostActivities = {
      async sessionExec(req) {
        execs.push({ ...req, queue: Context.current().info.taskQueue });
        return execImpl(req);
      },
      async sessionFile(req) {
        files.push(req);
        return fileImpl(req);
      },
      async sessionCell(req) {
        cells.push(req);
        return cellRan(req);
      },
      async dropContext(req) {
        drops.push(req.contextId);
      },
      async checkpointSession(req) {
        checkpoints.push(req);
        return checkpointImpl(req);
      },
      async removeSessionContainer(req) {
        removes.push(req.containerId);
        removeQueues.push(Context.current().info.taskQueue);
      },
    };
    workers = [
      await startWorker(env, CONTROL_TASK_QUEUE, {
        async dropSessionSnapshot(req: { sessionId: string }) { dropped.push(req.sessionId); },
        signSnapshotGrant,
        async hostSilentMs(req: { hostId: string }) { silentAsked.push(req.hostId); return silentImpl(req.hostId); },
      }, { workflows: true }),
      await startWorker(env, runtimeTaskQueue('terminal'), start),
      await startWorker(env, HOST_QUEUE, host),
    ];
  });

  after(async function () {
    this.timeout(60_000);
    await stopAll(workers);
    await env?.teardown();
  });

  beforeEach(() => {
    creates = [];
    execs = [];
    files = [];
    cells = [];
    drops = [];
    removes = [];
    checkpoints = [];
    dropped = [];
    checkpointImpl = async () => ({ outcome: 'saved', digest: 'd'.repeat(64), raw_bytes: 10240, bytes: 200 });
    removeQueues = [];
    hostQueueFor = () => HOST_QUEUE;
    createImpl = async () => undefined;
    execImpl = async (req) => ran(req.command);
    fileImpl = async (req) => fakeFile(req.op);
    refusedByRestore = {};
    silentImpl = () => null;
    silentAsked = [];
  });

  afterEach(async function () {
    await terminateRunning(started);
    started = [];
  });

  interface Session {
    sessionId: string;
    workflowId: string;
    /** Bound to the workflow id only, like the API's handles: it follows continue-as-new. */
    handle: WorkflowHandle<typeof sessionWorkflow>;
    firstRunId: string;
    first: TerminalExecOutput;
    /** What started it and its creating call, for a retry of that call. */
    input: SessionWorkflowInput;
    req: SessionExecRequest;
  }

  /** Creates a session with its first command, exactly as SessionService.exec does (Update-with-Start). */
  async function createSession(
    opts: { command?: string; lease_ttl_sec?: number; timeout_ms?: number; updateId?: string; requestHash?: string; durableGrant?: string } & Partial<SessionWorkflowInput> = {},
  ): Promise<Session> {
    const { command = 'echo hello', lease_ttl_sec, timeout_ms = 5_000, requestHash, updateId = requestHash, durableGrant, ...over } = opts;
    const sessionId = `sess_${randomUUID().replaceAll('-', '')}`;
    const workflowId = sessionWorkflowId(ACCOUNT, sessionId);
    const firstCommand = { id: randomUUID(), command, timeoutMs: timeout_ms, ...(durableGrant ? { durableGrant } : {}) };
    const input: SessionWorkflowInput = {
      sessionId,
      accountId: ACCOUNT,
      lease: { defaultSec: 5, minSec: 1, maxSec: 10, maxLifetimeMs: 60_000 },
      hostTimeoutMs: 1_000,
      heartbeatTimeoutMs: 2_000,
      initialLeaseSec: lease_ttl_sec,
      firstCommand,
      commandsPerRun: 100,
      ...over,
    };
    const startOp = sessionStartOperation(input);
    const req: SessionExecRequest = { command, timeout_ms, lease_ttl_sec, created: true, first_id: firstCommand.id, ...(requestHash ? { request_hash: requestHash } : {}) };
    const outcome = env.client.workflow.executeUpdateWithStart(execUpdate, { args: [req], startWorkflowOperation: startOp, updateId });
    await startOp.workflowHandle();
    const handle = env.client.workflow.getHandle<typeof sessionWorkflow>(workflowId);
    started.push(handle);
    const first = await outcome;
    // The run that took the first command (no test continues as new on the first command alone).
    const firstRunId = (await handle.describe()).runId;
    return { sessionId, workflowId, handle, firstRunId, first, input, req };
  }

  /** A later command in the session (SessionService.exec without create_if_missing). */
  function exec(s: Session, command: string, more: Partial<SessionExecRequest> = {}, updateId?: string): Promise<TerminalExecOutput> {
    return s.handle.executeUpdate(execUpdate, { args: [{ command, timeout_ms: 5_000, created: false, ...more }], updateId });
  }

  /** The ApplicationFailure an update was refused or failed with. */
  async function updateFailure(p: Promise<unknown>): Promise<ApplicationFailure> {
    const err = await p.then((r) => assert.fail(`expected the update to fail, it returned ${JSON.stringify(r).slice(0, 500)}`), (e: unknown) => e);
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(err)}`);
    assert.ok(err.cause instanceof ApplicationFailure, `expected an ApplicationFailure cause, got ${String(err.cause)}`);
    return err.cause;
  }

  /** Closes the session and waits until its workflow is done (the container removed). */
  async function closeAndWait(s: Session): Promise<SessionSummary> {
    await s.handle.executeUpdate(closeUpdate);
    const summary = await s.handle.result();
    assert.equal(summary.ended_reason, 'closed');
    return summary;
  }

  async function historyOf(handle: WorkflowHandle) {
    return (await handle.fetchHistory()).events ?? [];
  }

  it('runs the creating command inside the start activity (created: true) and later ones on the session host (created: false)', async () => {
    const s = await createSession({ command: 'echo hello' });
    assert.equal(s.first.session_id, s.sessionId);
    assert.equal(s.first.created, true);
    assert.equal(s.first.stdout, 'ran: echo hello\n');
    assert.equal(s.first.exit_code, 0);
    assert.equal(creates.length, 1);
    assert.equal(creates[0].queue, runtimeTaskQueue('terminal'));
    assert.deepEqual(creates[0].firstCommand, { command: 'echo hello', timeoutMs: 5_000 });
    assert.equal(execs.length, 0, 'the first command must not run a second time through sessionExec');

    const second = await exec(s, 'pwd');
    assert.equal(second.created, false);
    assert.equal(second.stdout, 'ran: pwd\n');
    assert.deepEqual(execs, [{ containerId: containerOf(s.sessionId), command: 'pwd', timeoutMs: 5_000, queue: HOST_QUEUE }]);
    assert.equal(creates.length, 1);

    const state = await s.handle.query(stateQuery);
    assert.equal(state.status, 'active');
    assert.equal(state.host, HOST_ID);
    assert.equal(state.commands, 2);
    const d = await s.handle.describe();
    assert.equal(d.typedSearchAttributes.get(SA_HOST), HOST_ID);
    assert.equal((d.memo as Record<string, unknown>).container_id, containerOf(s.sessionId));
    await closeAndWait(s);
  });

  it('runs file operations on the session host, in its container', async () => {
    const s = await createSession();
    const op: FileOp = { op: 'write', path: 'notes.txt', contentBase64: Buffer.from('hello').toString('base64') };
    assert.deepEqual(await s.handle.executeUpdate(fileUpdate, { args: [op] }), { op: 'write', path: 'notes.txt', size: 5 });
    assert.deepEqual(files, [{ containerId: containerOf(s.sessionId), op }]);
    await closeAndWait(s);
  });

  it('refuses a second command while one runs with session_busy, and writes nothing for it', async () => {
    const s = await createSession({ updateId: 'first-command' });
    const release = deferred<HostExecResult>();
    const running = deferred();
    execImpl = async (req) => {
      running.resolve();
      return heartbeatUntil(release.promise.then(() => ran(req.command)));
    };
    const slow = exec(s, 'sleep 1', {}, 'slow-command');
    await running.promise;

    const refusal = await updateFailure(exec(s, 'echo too-soon', {}, 'refused-command'));
    assert.equal(refusal.type, 'session_busy');
    assert.equal((await s.handle.query(stateQuery)).status, 'busy');

    release.resolve(ran('sleep 1'));
    assert.equal((await slow).stdout, 'ran: sleep 1\n');
    assert.deepEqual(execs.map((e) => e.command), ['sleep 1'], 'the refused command must never reach the host');

    const events = await historyOf(s.handle);
    const accepted = events.flatMap((e) => {
      const id = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId;
      return id ? [id] : [];
    });
    assert.deepEqual(accepted, ['first-command', 'slow-command']);
    assert.ok(!JSON.stringify(events).includes('too-soon'), 'the refused command appears in the history');
    assert.equal((await s.handle.query(stateQuery)).commands, 2);
    await closeAndWait(s);
  });

  it('extends the lease on every call but never shortens it, and ends the session lease_expired, removing its container, when it runs out', async () => {
    const t0 = Date.now();
    const s = await createSession({ lease_ttl_sec: 3, lease: { defaultSec: 2, minSec: 1, maxSec: 10, maxLifetimeMs: 60_000 } });
    const l0 = s.first.lease_expires_unix_ms;
    assert.ok(l0 >= t0 + 3_000 - 50 && l0 <= Date.now() + 3_000, `first lease ${l0 - t0} ms after the call, expected the 3 s asked for`);

    // Asking for 1 s while about 3 s are left does not shorten the lease.
    const shorter = await exec(s, 'true', { lease_ttl_sec: 1 });
    assert.equal(shorter.lease_expires_unix_ms, l0);

    // Asking for 4 s extends it.
    const longer = await exec(s, 'true', { lease_ttl_sec: 4 });
    assert.ok(longer.lease_expires_unix_ms > l0, 'a longer lease_ttl_sec did not extend the lease');
    const state = await s.handle.query(stateQuery);
    assert.ok(state.lease_expires_unix_ms !== null && state.lease_expires_unix_ms >= longer.lease_expires_unix_ms);
    const expiry = state.lease_expires_unix_ms;

    const summary = await s.handle.result();
    const endedAt = Date.now();
    assert.equal(summary.status, 'ended');
    assert.equal(summary.ended_reason, 'lease_expired');
    assert.equal(summary.commands, 3);
    assert.ok(endedAt >= expiry - 100, `ended ${expiry - endedAt} ms before its lease ran out`);
    assert.ok(endedAt <= expiry + 3_000, `ended ${endedAt - expiry} ms after its lease ran out`);
    assert.deepEqual(removes, [containerOf(s.sessionId)]);
    assert.deepEqual(removeQueues, [HOST_QUEUE]);
  });

  it('continues as new after commandsPerRun commands, keeping its host, container and command count', async () => {
    const s = await createSession({ commandsPerRun: 2, lease_ttl_sec: 10 });
    await exec(s, 'echo two');
    // The second command of the run triggers continue-as-new.
    await eventually(async () => (await env.client.workflow.getHandle(s.workflowId, s.firstRunId).describe()).status.name === 'CONTINUED_AS_NEW', 'the first run to continue as new');

    const after = await s.handle.query(stateQuery);
    assert.equal(after.status, 'active');
    assert.equal(after.commands, 2);
    assert.equal(after.host, HOST_ID);
    const d = await s.handle.describe();
    assert.notEqual(d.runId, s.firstRunId);
    assert.equal((d.memo as Record<string, unknown>).container_id, containerOf(s.sessionId));
    assert.equal(d.typedSearchAttributes.get(SA_HOST), HOST_ID);

    const three = await exec(s, 'echo three');
    assert.equal(three.stdout, 'ran: echo three\n');
    assert.equal(three.created, false);
    // Straight on, without waiting: the fourth command continues the second run as new too.
    await exec(s, 'echo four');
    const five = await exec(s, 'echo five');
    assert.equal(five.stdout, 'ran: echo five\n');
    assert.equal((await s.handle.query(stateQuery)).commands, 5);

    assert.equal(creates.length, 1, 'continue-as-new must not create another container');
    assert.deepEqual(new Set(execs.map((e) => e.containerId)), new Set([containerOf(s.sessionId)]));
    assert.deepEqual(new Set(execs.map((e) => e.queue)), new Set([HOST_QUEUE]));

    const closed = await s.handle.executeUpdate(closeUpdate);
    assert.equal(closed.ended_reason, 'closed');
    assert.equal(closed.commands, 5);
    await s.handle.result();
    assert.deepEqual(removes, [containerOf(s.sessionId)]);
    const runs = await runsOf(env.client, s.workflowId);
    assert.deepEqual(runs.map((r) => r.status), ['CONTINUED_AS_NEW', 'CONTINUED_AS_NEW', 'COMPLETED']);
  });

  it('fails the next command with session_lost when the host stops answering, and ends the session session_lost', async () => {
    hostQueueFor = () => GONE_HOST_QUEUE;
    const s = await createSession({ hostTimeoutMs: 1_000 });
    assert.equal(s.first.stdout, 'ran: echo hello\n');

    const t0 = Date.now();
    const lost = await updateFailure(exec(s, 'ls'));
    const waited = Date.now() - t0;
    assert.equal(lost.type, 'session_lost');
    assert.ok(waited >= 1_000, `lost after ${waited} ms, before hostTimeoutMs`);
    assert.ok(waited < 10_000, `lost only after ${waited} ms`);

    const summary: SessionSummary = await s.handle.result();
    assert.equal(summary.status, 'ended');
    assert.equal(summary.ended_reason, 'session_lost');
    const d = await s.handle.describe();
    assert.equal(d.typedSearchAttributes.get(SA_ERROR), 'session_lost');
    assert.equal(d.typedSearchAttributes.get(SA_HOST), 'gone');
    const scheduled = (await historyOf(s.handle)).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    assert.deepEqual(scheduled, ['createSessionContainer', 'sessionExec'], 'no cleanup is sent to a lost host');
    assert.deepEqual(execs, []);
  });

  it('closes on closeUpdate: answers the final summary (closed), removes the container, and takes no further command', async () => {
    const s = await createSession();
    await exec(s, 'echo two');
    const closed = await s.handle.executeUpdate(closeUpdate);
    assert.equal(closed.status, 'ended');
    assert.equal(closed.ended_reason, 'closed');
    assert.equal(closed.session_id, s.sessionId);
    assert.equal(closed.commands, 2);
    // The close answers as soon as the session has ended; the container is removed right after.
    assert.deepEqual(await s.handle.result(), closed);
    assert.equal((await s.handle.describe()).status.name, 'COMPLETED');
    assert.deepEqual(removes, [containerOf(s.sessionId)]);
    assert.deepEqual(removeQueues, [HOST_QUEUE]);
    await assert.rejects(exec(s, 'echo three'));
    assert.deepEqual(execs.map((e) => e.command), ['echo two']);
  });

  it('fails a command that runs past its timeout with type timeout and its output, and keeps the session usable', async () => {
    const s = await createSession();
    execImpl = async (req) => (req.command === 'sleep 100'
      ? ran(req.command, { stdout: 'partial output\n', stderr: 'still going\n', exit_code: 137, timed_out: true })
      : ran(req.command));
    const failure = await updateFailure(exec(s, 'sleep 100', { timeout_ms: 500 }));
    assert.equal(failure.type, 'timeout');
    assert.match(failure.message, /timeout_ms=500/);
    assert.deepEqual(failure.details, [{ stdout: 'partial output\n', stderr: 'still going\n' }]);

    const state = await s.handle.query(stateQuery);
    assert.equal(state.status, 'active');
    const after = await exec(s, 'echo still-here');
    assert.equal(after.stdout, 'ran: echo still-here\n');
    assert.equal((await s.handle.query(stateQuery)).commands, 3);
    assert.deepEqual(removes, []);
    await closeAndWait(s);
  });

  // When continue-as-new is due while a file operation runs, the run waits for its handlers; a close
  // arriving then must end the session rather than wait on a run that waits on it.
  it('ends the session when a close arrives while continue-as-new waits for a running file operation', async () => {
    const s = await createSession({ commandsPerRun: 2, lease_ttl_sec: 10 });
    const release = deferred();
    const inFile = deferred();
    fileImpl = async (req) => {
      inFile.resolve();
      await heartbeatUntil(release.promise);
      return fakeFile(req.op);
    };
    const file = s.handle.executeUpdate(fileUpdate, { args: [{ op: 'list', path: '.' }] });
    await inFile.promise;
    await exec(s, 'echo two'); // the run's second command: continue-as-new is due, after the file operation
    const closing = s.handle.executeUpdate(closeUpdate);
    await eventually(async () => (await s.handle.describe()).raw.pendingWorkflowTask == null, 'the close to be delivered');
    release.resolve();
    await file;
    const closed = await Promise.race([closing, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 5_000))]);
    assert.notEqual(closed, 'pending', 'the close never answered');
    assert.equal((closed as SessionSummary).ended_reason, 'closed');
    await s.handle.result();
    assert.deepEqual(removes, [containerOf(s.sessionId)]);
  });

  it('fails the creating command with execution_failed and ends start_failed when no container can be created', async () => {
    createImpl = async () => { throw new Error('docker: no space left on device'); };
    const err = await createSession().then(() => assert.fail('the session must not start'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowUpdateFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    assert.equal(err.cause.type, 'execution_failed');
    // The cause (the Docker error) is not in the message: the workflow reports only 'Activity task failed'.
    assert.match(err.cause.message, /^session could not start/);
    const handle = started[started.length - 1];
    const summary = await handle.result();
    assert.equal(summary.ended_reason, 'start_failed');
    assert.equal((await handle.describe()).typedSearchAttributes.get(SA_ERROR), 'start_failed');
    assert.equal(creates.length, 1, 'a start carrying the first command must not be retried');
  });

  describe('a request_id retried after the session continued as new', () => {
    /** The fake shell numbers its runs: a command run a second time answers differently. */
    let shellRuns: number;
    beforeEach(() => {
      shellRuns = 0;
      execImpl = async (req) => ran(req.command, { stdout: `run ${++shellRuns}: ${req.command}\n` });
    });

    /** A later command under a request key, as SessionService.exec sends it: the key's hash is the Update id and rides in the request. */
    const keyedExec = (s: Session, command: string, key: string, more: Partial<SessionExecRequest> = {}) => exec(s, command, { request_hash: key, ...more }, key);
    const keyedCell = (s: Session, code: string, key: string) =>
      s.handle.executeUpdate(codeUpdate, { args: [{ code, timeout_ms: 5_000, request_hash: key }], updateId: key });
    const runIdOf = async (s: Session) => (await s.handle.describe()).runId;
    const continuedFrom = (s: Session, runId: string) => eventually(async () => (await runIdOf(s)) !== runId, 'continue-as-new');
    const keyOf = (c: string) => c.repeat(64);

    it('answers a command\'s retry in a later run, and the run after, with the first answer, and never runs it again', async () => {
      const s = await createSession({ commandsPerRun: 2 });
      const first = await keyedExec(s, 'echo keyed', keyOf('a'));
      assert.equal(first.stdout, 'run 1: echo keyed\n');
      await continuedFrom(s, s.firstRunId);

      assert.deepEqual(await keyedExec(s, 'echo keyed', keyOf('a')), first);
      assert.deepEqual(execs.map((e) => e.command), ['echo keyed'], 'the retry ran the command again');
      assert.equal((await s.handle.query(stateQuery)).commands, 2, 'a retry answered from the record is not a command');

      // Two more commands: the session continues as new once more, and still knows the key.
      const second = await runIdOf(s);
      await exec(s, 'echo three');
      await exec(s, 'echo four');
      await continuedFrom(s, second);
      assert.deepEqual(await keyedExec(s, 'echo keyed', keyOf('a')), first);
      assert.deepEqual(execs.map((e) => e.command), ['echo keyed', 'echo three', 'echo four']);
      await closeAndWait(s);
    });

    it('answers a retried creating call (Update-with-Start joining the continued session) with its first answer: no second container, no second run', async () => {
      const key = keyOf('b');
      const s = await createSession({ commandsPerRun: 2, requestHash: key, command: 'echo created' });
      assert.equal(s.first.created, true);
      await exec(s, 'echo two');
      await continuedFrom(s, s.firstRunId);

      // SessionService.exec retried: a new first command id, the same session and update id.
      const firstCommand = { ...s.input.firstCommand!, id: randomUUID() };
      const retry = await env.client.workflow.executeUpdateWithStart(execUpdate, {
        args: [{ ...s.req, first_id: firstCommand.id }], startWorkflowOperation: sessionStartOperation({ ...s.input, firstCommand }), updateId: key,
      });
      assert.deepEqual(retry, s.first);
      assert.equal(creates.length, 1);
      assert.deepEqual(execs.map((e) => e.command), ['echo two']);
      await closeAndWait(s);
    });

    it('answers a retried command that timed out with the same timeout failure and output', async () => {
      execImpl = async (req) => ran(req.command, { stdout: `run ${++shellRuns}\n`, exit_code: 137, timed_out: true });
      const s = await createSession({ commandsPerRun: 2 });
      const first = await updateFailure(keyedExec(s, 'sleep 100', keyOf('c'), { timeout_ms: 500 }));
      assert.equal(first.type, 'timeout');
      await continuedFrom(s, s.firstRunId);
      const again = await updateFailure(keyedExec(s, 'sleep 100', keyOf('c'), { timeout_ms: 500 }));
      assert.equal(again.type, 'timeout');
      assert.equal(again.message, first.message);
      assert.deepEqual(again.details, [{ stdout: 'run 1\n', stderr: '' }]);
      assert.equal(execs.length, 1);
      await closeAndWait(s);
    });

    it('answers a retried cell from its first answer', async () => {
      const s = await createSession({ commandsPerRun: 2 });
      const first = await keyedCell(s, 'x = 1', keyOf('d'));
      await continuedFrom(s, s.firstRunId);
      assert.deepEqual(await keyedCell(s, 'x = 1', keyOf('d')), first);
      assert.equal(cells.length, 1);
      await closeAndWait(s);
    });

    it('refuses the retry of a command whose answer was too large to carry (conflict), and never runs it again; smaller ones are kept', async () => {
      const big = 'x'.repeat(KEPT_ANSWER_BYTES + 1);
      execImpl = async (req) => ran(req.command, { stdout: req.command === 'big' ? big : `run ${++shellRuns}\n` });
      const s = await createSession({ commandsPerRun: 3 });
      const small = await keyedExec(s, 'small', keyOf('e'));
      assert.equal((await keyedExec(s, 'big', keyOf('f'))).stdout.length, big.length);
      await continuedFrom(s, s.firstRunId);

      const refusal = await updateFailure(keyedExec(s, 'big', keyOf('f')));
      assert.equal(refusal.type, 'conflict');
      assert.match(refusal.message, /request_id/);
      assert.deepEqual(await keyedExec(s, 'small', keyOf('e')), small);
      assert.deepEqual(execs.map((e) => e.command), ['small', 'big']);
      await closeAndWait(s);
    });

    it('answers a kept retry even while another command runs (as Temporal answers a known Update)', async () => {
      const s = await createSession({ commandsPerRun: 2 });
      const first = await keyedExec(s, 'echo keyed', keyOf('0'));
      await continuedFrom(s, s.firstRunId);
      const release = deferred();
      const running = deferred();
      execImpl = async (req) => {
        running.resolve();
        return heartbeatUntil(release.promise.then(() => ran(req.command)));
      };
      const slow = exec(s, 'sleep 1');
      await running.promise;
      assert.deepEqual(await keyedExec(s, 'echo keyed', keyOf('0')), first);
      release.resolve();
      await slow;
      assert.deepEqual(execs.map((e) => e.command), ['echo keyed', 'sleep 1']);
      await closeAndWait(s);
    });
  });

  describe('interpreter contexts', () => {
    it('runs a cell in the language\'s default context, made on first use, on the session\'s host', async () => {
      const s = await createSession();
      const out = await s.handle.executeUpdate(codeUpdate, { args: [{ code: '1+1', timeout_ms: 5_000 }] });
      assert.equal(out.language, 'python');
      assert.equal(out.session_id, s.sessionId);
      assert.equal(out.context_id, 'default-python');
      assert.equal(out.results[0].text, 'python@default-python: 1+1');
      assert.deepEqual(cells.map((c) => [c.containerId, c.contextId, c.language]), [[containerOf(s.sessionId), 'default-python', 'python']]);
      const js = await s.handle.executeUpdate(codeUpdate, { args: [{ code: '2', language: 'javascript', timeout_ms: 5_000 }] });
      assert.equal(js.context_id, 'default-javascript');
      const listed = await s.handle.query(contextsQuery);
      assert.deepEqual(listed.map((c) => [c.context_id, c.language]), [['default-python', 'python'], ['default-javascript', 'javascript']]);
      await closeAndWait(s);
    });

    it('creates, uses and deletes a named context; a deleted or unknown id is context_not_found; another language is invalid_input', async () => {
      const s = await createSession();
      const c = await s.handle.executeUpdate(createContextUpdate, { args: [{ language: 'bash' }] });
      assert.match(c.context_id, /^ctx_[0-9a-f]{32}$/);
      assert.equal(c.language, 'bash');
      assert.ok(!Number.isNaN(Date.parse(c.created_at)));
      assert.equal(cells.length, 0, 'a context\'s process starts with its first cell, not before');
      // Without a language the cell takes the context's.
      const out = await s.handle.executeUpdate(codeUpdate, { args: [{ code: 'pwd', context_id: c.context_id, timeout_ms: 5_000 }] });
      assert.equal(out.language, 'bash');
      assert.equal(out.context_id, c.context_id);
      const wrong = await updateFailure(s.handle.executeUpdate(codeUpdate, { args: [{ code: 'x', language: 'python', context_id: c.context_id, timeout_ms: 5_000 }] }));
      assert.equal(wrong.type, 'invalid_input');
      assert.match(wrong.message, /^language: /);
      await s.handle.executeUpdate(deleteContextUpdate, { args: [c.context_id] });
      assert.deepEqual(drops, [c.context_id], 'the host ends the context\'s process');
      const gone = await updateFailure(s.handle.executeUpdate(codeUpdate, { args: [{ code: 'pwd', context_id: c.context_id, timeout_ms: 5_000 }] }));
      assert.equal(gone.type, 'context_not_found');
      assert.equal((await updateFailure(s.handle.executeUpdate(deleteContextUpdate, { args: [c.context_id] }))).type, 'context_not_found');
      assert.equal((await updateFailure(s.handle.executeUpdate(codeUpdate, { args: [{ code: '1', context_id: 'ctx_nope', timeout_ms: 5_000 }] }))).type, 'context_not_found');
      assert.equal(cells.length, 1, 'refused cells never reached the host');
      await closeAndWait(s);
    });

    it('refuses a cell while a command runs (session_busy) and caps the number of contexts', async () => {
      const s = await createSession();
      const release = deferred<void>();
      const inCommand = deferred<void>();
      execImpl = async (req) => { inCommand.resolve(); await release.promise; return ran(req.command); };
      const slow = exec(s, 'sleep 1');
      await inCommand.promise;
      assert.equal((await updateFailure(s.handle.executeUpdate(codeUpdate, { args: [{ code: '1', timeout_ms: 5_000 }] }))).type, 'session_busy');
      release.resolve();
      await slow;
      for (let i = 0; i < MAX_CONTEXTS_PER_SESSION; i++) await s.handle.executeUpdate(createContextUpdate, { args: [{ language: 'python' }] });
      assert.equal((await updateFailure(s.handle.executeUpdate(createContextUpdate, { args: [{ language: 'python' }] }))).type, 'conflict');
      assert.equal((await updateFailure(s.handle.executeUpdate(codeUpdate, { args: [{ code: '1', language: 'bash', timeout_ms: 5_000 }] }))).type, 'conflict', 'a default context counts too');
      await closeAndWait(s);
    });

    it('carries its contexts across continue-as-new', async () => {
      const s = await createSession({ commandsPerRun: 2 });
      const c = await s.handle.executeUpdate(createContextUpdate, { args: [{ language: 'javascript' }] });
      await exec(s, 'echo one');
      await exec(s, 'echo two');
      await eventually(async () => (await s.handle.describe()).runId !== s.firstRunId, 'continue-as-new');
      const out = await s.handle.executeUpdate(codeUpdate, { args: [{ code: 'x', context_id: c.context_id, timeout_ms: 5_000 }] });
      assert.equal(out.language, 'javascript');
      assert.deepEqual((await s.handle.query(contextsQuery)).map((v) => v.context_id), [c.context_id]);
      await closeAndWait(s);
    });
  });

  describe('checkpoints, pauses and moves', () => {
    const durable = { checkpointMs: 300, pauseAfterMs: 0 };

    it('checkpoints /workspace after steps, at most once a period, records it, and drops it when the session ends', async () => {
      const s = await createSession(durable);
      await eventually(async () => checkpoints.length >= 1, 'a first checkpoint');
      const summary = await s.handle.query(stateQuery);
      assert.equal(summary.checkpoint?.bytes, 200);
      assert.equal(checkpoints[0].lastDigest, undefined);
      // Each checkpoint step carries a grant for this session's checkpoint, given to the session's host only.
      const want = { kind: 'snapshot' as const, accountId: ACCOUNT, subject: s.sessionId };
      assert.equal(grantRefusal(GRANT_KEY, checkpoints[0].grant, { ...want, hostId: HOST_ID }), undefined);
      assert.equal(grantRefusal(GRANT_KEY, checkpoints[0].grant, { ...want, hostId: 'another-host' }), 'a grant given to another host');
      assert.equal(grantRefusal(GRANT_KEY, checkpoints[0].grant, { ...want, subject: 'sess_other', hostId: HOST_ID }), 'a grant for other work');
      // Idle and unchanged: no further checkpoint.
      await new Promise((r) => setTimeout(r, 900));
      assert.equal(checkpoints.length, 1);
      // Five quick commands: at most one more within the period after them.
      for (let i = 0; i < 5; i++) await exec(s, `echo ${i} > f${i}`);
      await eventually(async () => checkpoints.length === 2, 'a checkpoint after the commands');
      assert.equal(checkpoints[1].lastDigest, 'd'.repeat(64), 'the host is told the digest it last saved');
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(checkpoints.length, 2);
      await closeAndWait(s);
      assert.deepEqual(dropped, [s.sessionId]);
    });

    it('a lost host without a checkpoint still loses the session', async () => {
      checkpointImpl = async () => { throw ApplicationFailure.nonRetryable('the host is failing'); };
      hostQueueFor = () => GONE_HOST_QUEUE;
      const s = await createSession({ ...durable, hostTimeoutMs: 1_000 });
      assert.equal((await s.handle.query(stateQuery)).checkpoint, undefined);
      assert.equal((await updateFailure(exec(s, 'ls'))).type, 'session_lost');
      assert.equal((await s.handle.result()).ended_reason, 'session_lost');
    });

    it('with a checkpoint, a lost host costs the session only its processes: restored on another host, the step runs there', async () => {
      const lostQueue = hostTaskQueue('h-lost');
      const lostHost = await startWorker(env, lostQueue, hostActivities);
      hostQueueFor = (_id, req) => (req.restore ? HOST_QUEUE : lostQueue);
      const s = await createSession({ ...durable, hostTimeoutMs: 1_000 });
      await eventually(async () => (await s.handle.query(stateQuery)).checkpoint !== undefined, 'a checkpoint');
      assert.equal(checkpoints[0].containerId, containerOf(s.sessionId));
      await lostHost.stop();

      const out = await exec(s, 'cat notes');
      assert.equal(out.stdout, 'ran: cat notes\n');
      assert.equal(out.restored, true);
      assert.match(out.restored_note ?? '', /host was lost/);
      assert.deepEqual(execs, [], 'the command ran in the step that restored the session');
      assert.deepEqual([creates.at(-1)!.queue, creates.at(-1)!.restore, creates.at(-1)!.firstCommand?.command], [runtimeTaskQueue('terminal'), true, 'cat notes']);
      // The restore reads the checkpoint under a grant for this session, for whichever host takes the step.
      assert.equal(grantRefusal(GRANT_KEY, creates.at(-1)!.snapshotGrant, { kind: 'snapshot', accountId: ACCOUNT, subject: s.sessionId, hostId: 'any-host' }), undefined);
      const summary = await s.handle.query(stateQuery);
      assert.equal(summary.host, HOST_ID);
      assert.equal((await s.handle.describe()).typedSearchAttributes.get(SA_HOST), HOST_ID);
      await closeAndWait(s);
    });

    it('pauses an idle session (checkpoint, container removed) and resumes it on the next call, restored: true', async () => {
      const s = await createSession({ checkpointMs: 300, pauseAfterMs: 600 });
      await eventually(async () => (await s.handle.query(stateQuery)).status === 'paused', 'the session to pause');
      const paused = await s.handle.query(stateQuery);
      assert.equal(paused.host, null);
      assert.deepEqual(removes, [containerOf(s.sessionId)], 'the container went');
      assert.ok(checkpoints.length >= 1);
      const out = await exec(s, 'cat notes');
      assert.equal(out.restored, true);
      assert.match(out.restored_note ?? '', /paused/);
      assert.equal(creates.at(-1)!.restore, true);
      assert.equal(creates.at(-1)!.firstCommand?.command, 'cat notes', 'the command ran in the step that restored the session');
      assert.equal((await s.handle.query(stateQuery)).status, 'active');
      const again = await exec(s, 'true');
      assert.equal(again.restored, undefined, 'only the call that resumed it says so');
      assert.equal(execs.at(-1)!.containerId, `${containerOf(s.sessionId)}-restored`, 'later commands run in the restored container');
      await closeAndWait(s);
      assert.deepEqual(removes, [containerOf(s.sessionId), `${containerOf(s.sessionId)}-restored`]);
      assert.deepEqual(dropped, [s.sessionId]);
    });

    it('a session used through its streams (usedSignal: a terminal, a port) does not pause, and checkpoints what they changed', async () => {
      const s = await createSession({ checkpointMs: 300, pauseAfterMs: 1200, lease_ttl_sec: 10 });
      const before = checkpoints.length;
      // In use for 2.5 s, twice the pause time: a signal every 400 ms, as a viewer typing would send.
      for (let i = 0; i < 6; i++) {
        await s.handle.signal(usedSignal);
        await new Promise((r) => setTimeout(r, 400));
        assert.equal((await s.handle.query(stateQuery)).status, 'active', 'not paused while in use');
      }
      assert.ok(checkpoints.length > before, 'what the streams changed was checkpointed');
      // Once nobody uses it, it pauses as any idle session.
      await eventually(async () => (await s.handle.query(stateQuery)).status === 'paused', 'the session to pause once unused');
      await closeAndWait(s);
    });

    it('a resume whose restore refused members of the checkpoint names them in restored_note, on that call only', async () => {
      refusedByRestore = { refused: ['/etc/x: absolute name', './out/x: its path goes through a symlink'], refused_count: 25 };
      const s = await createSession({ checkpointMs: 300, pauseAfterMs: 600 });
      await eventually(async () => (await s.handle.query(stateQuery)).status === 'paused', 'the session to pause');
      const out = await exec(s, 'ls');
      assert.equal(out.restored, true);
      assert.match(out.restored_note ?? '', /paused.*\. 25 entries of the checkpoint were refused and not restored: \/etc\/x: absolute name; \.\/out\/x: its path goes through a symlink; and 23 more$/);
      const again = await exec(s, 'true');
      assert.equal(again.restored_note, undefined);
      await closeAndWait(s);
    });

    it('a workspace over the checkpoint cap is never paused (its older checkpoint would lose work)', async () => {
      let big = false;
      execImpl = async (req) => { if (req.command.includes('big')) big = true; return ran(req.command); };
      checkpointImpl = async () => (big ? { outcome: 'too_large' } : { outcome: 'saved', digest: 'd'.repeat(64), raw_bytes: 10240, bytes: 200 });
      const s = await createSession({ checkpointMs: 200, pauseAfterMs: 2000, lease_ttl_sec: 10 });
      await eventually(async () => checkpoints.length >= 1, 'a first checkpoint');
      await exec(s, 'head -c 100M /dev/zero > big');
      await eventually(async () => checkpoints.length >= 2, 'a checkpoint found over the cap');
      await new Promise((r) => setTimeout(r, 3000));
      const summary = await s.handle.query(stateQuery);
      assert.equal(summary.status, 'active', 'idle past pauseAfterMs, yet not paused');
      assert.equal(summary.checkpoint?.bytes, 200, 'the older checkpoint is kept');
      assert.deepEqual(removes, []);
      assert.ok(checkpoints.length >= 3, 'the pause tried a checkpoint again first');
      await closeAndWait(s);
    });

    it('a paused session that ends is not sent to any host: its checkpoint is dropped', async () => {
      const s = await createSession({ checkpointMs: 300, pauseAfterMs: 500 });
      await eventually(async () => (await s.handle.query(stateQuery)).status === 'paused', 'the session to pause');
      const n = removes.length;
      await closeAndWait(s);
      assert.equal(removes.length, n, 'no second removal');
      assert.deepEqual(dropped, [s.sessionId]);
    });
  });
  describe('pause, resume and lease updates (explicit calls)', () => {
    // Checkpoints on, but no idle pause and a period long enough that only the calls act.
    const explicit = { checkpointMs: 60_000, pauseAfterMs: 0, lease_ttl_sec: 10 };
    /** Settles within `ms`, or says 'pending' (an update that never answers fails its test instead of its suite). */
    const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

    it('pauseUpdate pauses now (checkpoint, container removed) and the next command resumes it, restored: true', async () => {
      const s = await createSession(explicit);
      const paused = await s.handle.executeUpdate(pauseUpdate);
      assert.equal(paused.status, 'paused');
      assert.equal(paused.host, null);
      assert.ok(paused.checkpoint, 'the pause answers with the checkpoint it took');
      assert.equal(checkpoints.length, 1, 'a dirty workspace is checkpointed before the container goes');
      assert.deepEqual(removes, [containerOf(s.sessionId)]);
      assert.equal((await s.handle.describe()).memo?.paused, true);
      // A second pause of a paused session answers at once and does nothing more.
      assert.equal((await s.handle.executeUpdate(pauseUpdate)).status, 'paused');
      assert.equal(checkpoints.length, 1);

      const out = await exec(s, 'cat notes');
      assert.equal(out.restored, true);
      assert.match(out.restored_note ?? '', /paused/);
      assert.equal(creates.at(-1)!.restore, true);
      assert.equal(creates.at(-1)!.firstCommand?.command, 'cat notes');
      assert.equal((await s.handle.query(stateQuery)).status, 'active');
      await closeAndWait(s);
      assert.deepEqual(removes, [containerOf(s.sessionId), `${containerOf(s.sessionId)}-restored`]);
    });

    it('resumeUpdate brings a paused session back into a container now; on a live session it only extends the lease', async () => {
      const s = await createSession(explicit);
      await s.handle.executeUpdate(pauseUpdate);
      const resumed = await s.handle.executeUpdate(resumeUpdate);
      assert.equal(resumed.status, 'active');
      assert.equal(resumed.host, HOST_ID);
      assert.equal(creates.length, 2);
      assert.equal(creates[1].restore, true);
      assert.equal(creates[1].firstCommand, undefined, 'no command rode along');
      const d = await s.handle.describe();
      assert.equal(d.memo?.paused, false);
      assert.equal(d.memo?.container_id, `${containerOf(s.sessionId)}-restored`);

      const out = await exec(s, 'ls');
      assert.equal(out.restored, undefined, 'the command finds the session live: the resume did the restore');
      assert.equal(execs.at(-1)!.containerId, `${containerOf(s.sessionId)}-restored`);
      // A live session: nothing to restore.
      assert.equal((await s.handle.executeUpdate(resumeUpdate)).status, 'active');
      assert.equal(creates.length, 2);
      await closeAndWait(s);
    });

    it('a pause asked while a command runs never removes the container under it, and answers', async () => {
      const s = await createSession(explicit);
      const release = deferred();
      const running = deferred();
      execImpl = async (req) => {
        running.resolve();
        return heartbeatUntil(release.promise.then(() => ran(req.command)));
      };
      const slow = exec(s, 'sleep 5');
      await running.promise;
      const pausing = s.handle.executeUpdate(pauseUpdate);
      const early = await within(pausing, 1_500);
      assert.notEqual(early, 'pending', 'the pause waited for the command');
      assert.equal((early as SessionSummary).status, 'busy', 'not paused under its command');
      assert.deepEqual(removes, []);
      assert.deepEqual(checkpoints, []);
      release.resolve();
      assert.equal((await slow).stdout, 'ran: sleep 5\n');
      // The pause was not remembered for later: the session stays live once the command is done.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await s.handle.query(stateQuery)).status, 'active');
      assert.deepEqual(removes, []);
      await closeAndWait(s);
    });

    it('a resume while a command runs answers at once (busy); two resumes of a paused session restore it once, both answering active', async () => {
      const s = await createSession(explicit);
      const release = deferred();
      const running = deferred();
      execImpl = async (req) => {
        running.resolve();
        return heartbeatUntil(release.promise.then(() => ran(req.command)));
      };
      const slow = exec(s, 'sleep 5');
      await running.promise;
      const early = await within(s.handle.executeUpdate(resumeUpdate), 1_500);
      assert.notEqual(early, 'pending', 'the resume waited for the command');
      assert.equal((early as SessionSummary).status, 'busy');
      release.resolve();
      await slow;
      assert.equal(creates.length, 1, 'nothing to restore');

      await s.handle.executeUpdate(pauseUpdate);
      const slowRestore = deferred();
      createImpl = async (req) => { if (req.restore) await slowRestore.promise; };
      const first = s.handle.executeUpdate(resumeUpdate);
      const second = s.handle.executeUpdate(resumeUpdate);
      await eventually(async () => creates.length === 2, 'the restore to begin');
      slowRestore.resolve();
      const answers = await Promise.all([first, second]);
      assert.deepEqual(answers.map((a) => a.status), ['active', 'active']);
      assert.equal(creates.length, 2, 'one restore for both');
      assert.equal((await exec(s, 'ls')).restored, undefined);
      await closeAndWait(s);
    });

    it('a pause asked while continue-as-new waits for a running file operation answers, and the session continues as new', async () => {
      const s = await createSession({ ...explicit, commandsPerRun: 2 });
      const release = deferred();
      const inFile = deferred();
      fileImpl = async (req) => {
        inFile.resolve();
        await heartbeatUntil(release.promise);
        return fakeFile(req.op);
      };
      const file = s.handle.executeUpdate(fileUpdate, { args: [{ op: 'list', path: '.' }] });
      await inFile.promise;
      await exec(s, 'echo two'); // the run's second command: continue-as-new is due, after the file operation
      const answer = await within(s.handle.executeUpdate(pauseUpdate), 5_000);
      assert.notEqual(answer, 'pending', 'the pause never answered');
      assert.equal((answer as SessionSummary).status, 'active', 'a file operation holds the container: no pause under it');
      assert.deepEqual(removes, []);
      release.resolve();
      await file;
      await eventually(async () => (await env.client.workflow.getHandle(s.workflowId, s.firstRunId).describe()).status.name === 'CONTINUED_AS_NEW', 'the run to continue as new');
      // The next run pauses on request as any.
      const paused = await within(s.handle.executeUpdate(pauseUpdate), 5_000);
      assert.equal((paused as SessionSummary).status, 'paused');
      assert.deepEqual(removes, [containerOf(s.sessionId)]);
      await closeAndWait(s);
    });

    it('a pause sent as continue-as-new falls due answers paused, in whichever run takes it, and the paused session carries over', async () => {
      const s = await createSession({ ...explicit, commandsPerRun: 2 });
      await exec(s, 'echo two'); // the run's second command: continue-as-new is due
      const answer = await within(s.handle.executeUpdate(pauseUpdate), 5_000);
      assert.notEqual(answer, 'pending', 'the pause never answered');
      assert.equal((answer as SessionSummary).status, 'paused');
      await eventually(async () => (await env.client.workflow.getHandle(s.workflowId, s.firstRunId).describe()).status.name === 'CONTINUED_AS_NEW', 'the run to continue as new');
      assert.equal((await s.handle.query(stateQuery)).status, 'paused');
      assert.deepEqual(removes, [containerOf(s.sessionId)]);
      const out = await exec(s, 'echo three');
      assert.equal(out.restored, true);
      await closeAndWait(s);
    });

    it('refuses a pause with conflict when checkpoints are off; an ended session takes none of the three', async () => {
      const s = await createSession({ lease_ttl_sec: 10 });
      const off = await updateFailure(s.handle.executeUpdate(pauseUpdate));
      assert.equal(off.type, 'conflict');
      assert.match(off.message, /checkpoints are off/);
      await closeAndWait(s);
      // Its workflow has completed: Temporal refuses the updates (the API tells them as session_not_found).
      await assert.rejects(s.handle.executeUpdate(pauseUpdate), WorkflowNotFoundError);
      await assert.rejects(s.handle.executeUpdate(resumeUpdate), WorkflowNotFoundError);
      await assert.rejects(s.handle.executeUpdate(leaseUpdate, { args: [{ ttl_sec: 5 }] }), WorkflowNotFoundError);
      assert.equal(creates.length, 1, 'no resume of an ended session');
    });

    it('a shortened lease ends the session at its new time, not at the old one', async () => {
      const s = await createSession({ ...explicit, lease_ttl_sec: 10, lease: { defaultSec: 5, minSec: 1, maxSec: 30, maxLifetimeMs: 60_000 } });
      const before = (await s.handle.query(stateQuery)).lease_expires_unix_ms!;
      const t0 = Date.now();
      const set = await s.handle.executeUpdate(leaseUpdate, { args: [{ ttl_sec: 1 }] });
      assert.ok(set.lease_expires_unix_ms! < before, 'the lease was not shortened');
      assert.ok(Math.abs(set.lease_expires_unix_ms! - (t0 + 1_000)) < 1_000, `lease ${set.lease_expires_unix_ms! - t0} ms away, expected 1 s`);
      assert.equal((await s.handle.describe()).memo?.lease_expires_unix_ms, set.lease_expires_unix_ms);
      const summary = await s.handle.result();
      const endedAt = Date.now();
      assert.equal(summary.ended_reason, 'lease_expired');
      assert.ok(endedAt >= set.lease_expires_unix_ms! - 100, 'ended before its new lease ran out');
      assert.ok(endedAt < before - 5_000, `ended ${endedAt - t0} ms after the call: it kept the old wake-up`);
      assert.deepEqual(removes, [containerOf(s.sessionId)]);
    });

    it('a lengthened lease keeps the session past its old end (bounded by maxSec), and ends it at the new one', async () => {
      const s = await createSession({ ...explicit, lease_ttl_sec: 1, lease: { defaultSec: 1, minSec: 1, maxSec: 4, maxLifetimeMs: 60_000 } });
      const old = (await s.handle.query(stateQuery)).lease_expires_unix_ms!;
      const t0 = Date.now();
      const set = await s.handle.executeUpdate(leaseUpdate, { args: [{ ttl_sec: 3 }] });
      assert.ok(set.lease_expires_unix_ms! >= t0 + 3_000 - 50, 'the lease was not lengthened');
      await new Promise((r) => setTimeout(r, Math.max(0, old - Date.now()) + 800));
      assert.equal((await s.handle.query(stateQuery)).status, 'active', 'ended at its old lease');
      // More than maxSec is held to it (the API refuses it before it gets here).
      // No number is refused before it reaches the session's timers (a caller other than the API may send one).
      for (const bad of [{}, { ttl_sec: 'soon' }, { ttl_sec: null }]) {
        const refused = await updateFailure(s.handle.executeUpdate(leaseUpdate, { args: [bad as unknown as { ttl_sec: number }] }));
        assert.equal(refused.type, 'invalid_input');
        assert.match(refused.message, /^ttl_sec: /);
      }
      const capped = await s.handle.executeUpdate(leaseUpdate, { args: [{ ttl_sec: 100 }] });
      assert.ok(capped.lease_expires_unix_ms! <= Date.now() + 4_000);
      const summary = await s.handle.result();
      assert.equal(summary.ended_reason, 'lease_expired');
      assert.ok(Date.now() >= capped.lease_expires_unix_ms! - 100);
    });

    it('a shortened lease of a paused session ends it without sending anything to a host', async () => {
      const s = await createSession(explicit);
      await s.handle.executeUpdate(pauseUpdate);
      const n = removes.length;
      await s.handle.executeUpdate(leaseUpdate, { args: [{ ttl_sec: 1 }] });
      const summary = await within(s.handle.result(), 5_000);
      assert.equal((summary as SessionSummary).ended_reason, 'lease_expired');
      assert.equal(removes.length, n, 'no second removal');
      assert.deepEqual(dropped, [s.sessionId]);
    });
  });
  describe('zero loss: steps that store their effect, container generations, waiting for a host that may come back', () => {
    const zero: Partial<SessionWorkflowInput> = { checkpointMs: 300, pauseAfterMs: 0, durability: 'zero', hostGoneMs: 3_000, hostTimeoutMs: 500 };
    /** The claims of a grant, read without checking it (the workflow test looks at what was signed). */
    const claimsOf = (grant: string | undefined) => JSON.parse(Buffer.from(grant!.split('.')[1], 'base64url').toString('utf8')) as { h: string; g?: number };
    let seq = 0;
    const stored = (): CheckpointResult => ({ outcome: 'saved', kind: 'delta', seq: ++seq, digest: 'e'.repeat(64), raw_bytes: 10240, bytes: 100 });

    it('every changing step carries a grant for its host and generation, and its stored delta is the session\'s checkpoint', async () => {
      execImpl = async (req) => ({ ...ran(req.command), checkpoint: stored() });
      fileImpl = async (req) => ({ ...fakeFile(req.op), checkpoint: stored() });
      // The API signs the first command's grant (generation 1) with the start; the workflow hands it on.
      const s = await createSession({ ...zero, durableGrant: 'g1.api-signed.grant' });
      assert.equal(creates[0].durable?.grant, 'g1.api-signed.grant', 'the first command stores its effect under the API\'s grant');
      await exec(s, 'echo a >> f');
      await s.handle.executeUpdate(fileUpdate, { args: [{ op: 'write', path: 'x', contentBase64: 'eA==' }] });
      await s.handle.executeUpdate(fileUpdate, { args: [{ op: 'read', path: 'x', maxBytes: 10 }] });
      assert.deepEqual([claimsOf(execs[0].durable?.grant).h, claimsOf(execs[0].durable?.grant).g], [HOST_ID, 1]);
      assert.ok(files[0].durable, 'a write stores its effect');
      assert.equal(files[1].durable, undefined, 'a read changes nothing: it stores nothing');
      const summary = await s.handle.query(stateQuery);
      assert.equal(summary.checkpoint?.bytes, 300, 'three deltas of 100 bytes: the first command, the command, the write');
      await new Promise((r) => setTimeout(r, 900));
      assert.deepEqual(checkpoints, [], 'nothing left to checkpoint in the background');
      await closeAndWait(s);
    });

    it('the file tools that change the workspace (edit, move, copy, mkdir) store their effect; glob and grep store nothing', async () => {
      fileImpl = async (req) => ({ ...fakeFile(req.op), ...(req.durable ? { checkpoint: stored() } : {}) });
      const s = await createSession(zero);
      const ops: FileOp[] = [
        { op: 'edit', path: 'a.txt', oldText: 'a', newText: 'b' },
        { op: 'move', path: 'a.txt', to: 'b.txt' },
        { op: 'copy', path: 'b.txt', to: 'c.txt' },
        { op: 'mkdir', path: 'd', parents: true },
        { op: 'glob', path: '/workspace', pattern: '*', limit: 10 },
        { op: 'grep', path: '/workspace', pattern: 'x', limit: 10 },
      ];
      for (const op of ops) await s.handle.executeUpdate(fileUpdate, { args: [op] });
      assert.deepEqual(files.map((f) => [f.op.op, Boolean(f.durable)]), [['edit', true], ['move', true], ['copy', true], ['mkdir', true], ['glob', false], ['grep', false]]);
      await closeAndWait(s);
    });

    it('a host that stops polling but reported recently is waited for (a worker restart): the step runs there, no move', async () => {
      const flaky = hostTaskQueue('h-flaky');
      execImpl = async (req) => ({ ...ran(req.command), checkpoint: stored() });
      hostQueueFor = () => flaky;
      let flakyHost = await startWorker(env, flaky, hostActivities);
      const s = await createSession(zero);
      await flakyHost.stop();
      silentImpl = () => 1_000;
      const waiting = exec(s, 'echo later');
      await eventually(async () => silentAsked.length >= 1, 'the workflow to ask when the host last reported');
      flakyHost = await startWorker(env, flaky, hostActivities);
      const out = await waiting;
      await flakyHost.stop();
      assert.equal(out.stdout, 'ran: echo later\n');
      assert.equal(out.restored, undefined);
      assert.equal(creates.length, 1, 'never moved');
      assert.equal(execs.at(-1)!.queue, flaky);
      await terminateRunning([s.handle]);
    });

    it('a host silent past hostGoneMs is gone: the session moves to a new generation, and a failed move never goes back to the old host', async () => {
      const lostQueue = hostTaskQueue('h-gone');
      const lostHost = await startWorker(env, lostQueue, hostActivities);
      execImpl = async (req) => ({ ...ran(req.command), checkpoint: stored() });
      hostQueueFor = (_id, req) => (req.restore ? HOST_QUEUE : lostQueue);
      const s = await createSession({ ...zero, durableGrant: 'g1.api-signed.grant' });
      await lostHost.stop();
      silentImpl = () => 60_000;
      // The first move fails (no host takes it): the session is left without a container, never back on h-gone.
      createImpl = async (req) => { if (req.restore && creates.filter((c) => c.restore).length <= HOST_FULL_ATTEMPTS) throw ApplicationFailure.create({ type: 'host_full', message: 'full', nonRetryable: true }); };
      assert.equal((await updateFailure(exec(s, 'echo one'))).type, 'no_capacity');
      const out = await exec(s, 'echo two');
      assert.equal(out.stdout, 'ran: echo two\n');
      assert.equal(out.restored, true);
      assert.match(out.restored_note ?? '', /host was lost.*every step that was answered/);
      const restores = creates.filter((c) => c.restore);
      assert.ok(restores.length >= 2);
      // Each try claims a generation past every one handed out: the old container (generation 1) is fenced off.
      assert.ok(restores.every((c) => (claimsOf(c.snapshotGrant).g ?? 0) >= 2), JSON.stringify(restores.map((c) => claimsOf(c.snapshotGrant).g)));
      assert.equal((await s.handle.query(stateQuery)).host, HOST_ID);
      await closeAndWait(s);
    });
  });

  describe('sessions started from a copied chain (forks, named snapshots)', () => {
    /** A chain copied to the new session, as SessionService records it. */
    const copied = { digest: 'c'.repeat(64), raw_bytes: 30720, bytes: 900, atMs: Date.now() - 60_000, deltas: 2, deltaBytes: 300 };
    const chained = { hostGoneMs: 6_000, checkpointMs: 60_000, durability: 'zero' as const };

    it('takes its first container restored from the chain, runs the creating command there in the same step, and starts with that chain as its checkpoint', async () => {
      const s = await createSession({ command: 'cat f.txt', ...chained, restoreAtStart: { source: { snapshot: 'snap-a' }, checkpoint: copied } });
      assert.equal(s.first.created, true);
      assert.equal(s.first.stdout, 'ran: cat f.txt\n');
      assert.equal(s.first.restored, undefined, 'a new session is not a restored one');
      assert.equal(s.first.restored_note, undefined, 'its restore refused nothing');
      assert.equal(creates.length, 1);
      assert.equal(creates[0].restore, true);
      assert.deepEqual(creates[0].firstCommand, { command: 'cat f.txt', timeoutMs: 5_000 });
      // The command's effect is stored before it answers, as any zero-loss step's; the restore reads under its grant.
      assert.ok(creates[0].durable, 'the command aboard is durable');
      assert.equal(grantRefusal(GRANT_KEY, creates[0].snapshotGrant, { kind: 'snapshot', accountId: ACCOUNT, subject: s.sessionId, hostId: 'any-host' }), undefined);
      assert.equal(execs.length, 0, 'the creating command ran once, in the start step');
      // The copied chain is its checkpoint, and the first command's stored delta lengthens it.
      const state = await s.handle.query(stateQuery);
      assert.equal(state.checkpoint?.bytes, copied.bytes + 100);
      assert.equal(state.checkpoint?.raw_bytes, copied.raw_bytes + 10240);
      assert.ok(Date.parse(state.checkpoint!.at) > copied.atMs, 'the record is as of the stored delta');
      assert.equal(state.host, HOST_ID);
      assert.equal(await s.handle.query(templateQuery), null);
      await closeAndWait(s);
      assert.deepEqual(dropped, [s.sessionId], 'its chain goes with it');
    });

    it('a create_if_missing call joining it may name the snapshot (or session) it started from, never another (and a session not from one refuses any)', async () => {
      const s = await createSession({ ...chained, restoreAtStart: { source: { snapshot: 'snap-a' } } });
      assert.equal((await exec(s, 'true', { from_snapshot: 'snap-a' })).exit_code, 0);
      const other = await updateFailure(exec(s, 'true', { from_snapshot: 'snap-b' }));
      assert.equal(other.type, 'invalid_input');
      assert.match(other.message, /^from_snapshot: /);
      assert.match((await updateFailure(exec(s, 'true', { fork_from: 'sess_source' }))).message, /^fork_from: /, 'a session from a snapshot is no fork');
      const plain = await createSession(chained);
      assert.equal((await updateFailure(exec(plain, 'true', { from_snapshot: 'snap-a' }))).type, 'invalid_input');
      const forked = await createSession({ ...chained, restoreAtStart: { source: { session: 'sess_source' } } });
      assert.equal((await exec(forked, 'true', { fork_from: 'sess_source' })).exit_code, 0, 'a fork is joined by a call naming its source');
      assert.equal((await updateFailure(exec(forked, 'true', { fork_from: 'sess_elsewhere' }))).type, 'invalid_input');
      await closeAndWait(forked);
      assert.deepEqual(execs.map((e) => e.command), ['true', 'true'], 'a refused call never reaches the host');
      await closeAndWait(s);
      await closeAndWait(plain);
    });

    it('a fork without a command answers readyUpdate once restored; a fork whose restore fails ends start_failed and drops its copied chain', async () => {
      const input = (sessionId: string): SessionWorkflowInput => ({
        sessionId, accountId: ACCOUNT, lease: { defaultSec: 5, minSec: 1, maxSec: 10, maxLifetimeMs: 60_000 }, hostTimeoutMs: 1_000, heartbeatTimeoutMs: 2_000,
        commandsPerRun: 100, ...chained, restoreAtStart: { source: { session: 'sess_source' }, checkpoint: copied },
      });
      const forkOf = async (sessionId: string) => {
        const op = sessionStartOperation(input(sessionId));
        const answer = env.client.workflow.executeUpdateWithStart(readyUpdate, { args: [], startWorkflowOperation: op });
        started.push(await op.workflowHandle());
        return answer;
      };
      refusedByRestore = { refused: ['escape -> /etc/passwd: a link out of /workspace'], refused_count: 3 };
      const ok = await forkOf('sess_fork_ok');
      // Without a command nothing was stored: its checkpoint is the copied chain as it came.
      assert.deepEqual(ok.checkpoint, { at: new Date(copied.atMs).toISOString(), bytes: copied.bytes, raw_bytes: copied.raw_bytes });
      assert.match(ok.restored_note!, /3 entries of the checkpoint were refused and not restored: escape -> \/etc\/passwd: a link out of \/workspace; and 2 more/);
      refusedByRestore = {};
      assert.equal(ok.status, 'active');
      assert.equal(ok.host, HOST_ID);
      assert.equal(ok.commands, 0);
      assert.equal(creates.at(-1)!.restore, true);
      assert.equal(creates.at(-1)!.firstCommand, undefined);

      createImpl = async (req) => { if (req.restore) throw ApplicationFailure.create({ type: 'session_lost', message: 'part 3 is gone', nonRetryable: true }); };
      const failed = await forkOf('sess_fork_bad').then(() => assert.fail('the fork started'), (e: unknown) => e);
      assert.ok(failed instanceof WorkflowUpdateFailedError && failed.cause instanceof ApplicationFailure);
      assert.equal(failed.cause.type, 'execution_failed');
      assert.match(failed.cause.message, /part 3 is gone/);
      const summary = await env.client.workflow.getHandle<typeof sessionWorkflow>(sessionWorkflowId(ACCOUNT, 'sess_fork_bad')).result();
      assert.equal(summary.ended_reason, 'start_failed');
      assert.deepEqual(dropped, ['sess_fork_bad']);
    });
  });
});
