// Terminal sessions from the API's side. A session is a sessionWorkflow whose id is derived from the
// account and the session id; commands and file calls are Workflow Updates, so a session's first
// command starts it in the same round trip (Update-with-Start).
import { createHash, randomUUID } from 'node:crypto';
import {
  type Client, type WorkflowHandle, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import type { ApiSettings } from '../config/index.js';
import { DuraboxError, isErrorCode } from '../contract/errors.js';
import type {
  CheckpointRecord, ContextView, FileOp, FileResult, Language, RunCodeInput, RunCodeOutput, SessionExecRequest, SessionSummary, SessionWorkflowInput,
  TerminalExecInput, TerminalExecOutput,
} from '../contract/messages.js';
import { CONTROL_TASK_QUEUE } from '../contract/queues.js';
import type { ForkedSession, SessionListItemSchema } from '../contract/schemas.js';
import type { TemplateRef } from '../contract/templates.js';
import type { ChainPart, SnapshotStore } from '../db/snapshots.js';
import { SA_ACCOUNT, SA_CAPABILITY, SA_ERROR, SA_RUNTIME, SA_SESSION } from '../contract/search-attributes.js';
import {
  closeUpdate, codeUpdate, contextsQuery, createContextUpdate, deleteContextUpdate, execUpdate, fileUpdate, placementQuery, usedSignal, readyUpdate, pauseUpdate, resumeUpdate, leaseUpdate, sessionWorkflow, stateQuery, templateQuery,
} from '../workflows/session.js';
import { KeyedGate } from './keyed-gate.js';
import { fairnessKey, type Quotas } from './quotas.js';
import type { TemplateService } from './template-service.js';
import { listPage, quote, type Page } from './visibility.js';
import { ANY_HOST, signGrant } from './host-grants.js';

export type SessionListItem = z.output<typeof SessionListItemSchema>;

type Memo = { lease_expires_unix_ms?: number; host?: string; paused?: boolean; peer?: PeerMemo };

/**
 * What a peer SDK's sandbox (peer/) keeps with its session: which peer API made it, the template name it
 * asked for, its metadata and the environment of its commands. Written once, at the start, into the
 * workflow's memo (sealed by the payload codec like every payload).
 */
export interface PeerMemo { kind: 'opensandbox' | 'e2b'; alias: string; metadata: Record<string, string>; envs: Record<string, string> }

/** A running session as visibility lists it, with what its memo says. */
export interface RunningSession { sessionId: string; createdAt: Date; paused: boolean; host: string | null; leaseExpiresMs: number | null; peer?: PeerMemo }

/** The record a session started from a copied chain begins with, as its workflow keeps its own. */
export function chainRecord(parts: ChainPart[]): CheckpointRecord | undefined {
  const last = parts.at(-1);
  if (!last) return undefined;
  const deltas = parts.filter((p) => p.kind === 'delta');
  return {
    digest: last.digest,
    raw_bytes: parts.reduce((n, p) => n + p.raw_bytes, 0),
    bytes: parts.reduce((n, p) => n + p.bytes, 0),
    atMs: last.created_at.getTime(),
    ...(deltas.length > 0 ? { deltas: deltas.length, deltaBytes: deltas.reduce((n, p) => n + p.bytes, 0) } : {}),
  };
}

export function sessionWorkflowId(accountId: string, sessionId: string): string {
  return `session-${accountId}-${sessionId}`;
}

/**
 * How a session's workflow is started: on the control queue, joining a running one of the same id. An
 * ended session's id may be started afresh, unless `once`: a session named after a request key is
 * started at most once, so a retried request never runs its command in a second session.
 */
export function sessionStartOperation(input: SessionWorkflowInput, once = false, peer?: PeerMemo): WithStartWorkflowOperation<typeof sessionWorkflow> {
  return new WithStartWorkflowOperation(sessionWorkflow, {
    workflowId: sessionWorkflowId(input.accountId, input.sessionId),
    taskQueue: CONTROL_TASK_QUEUE,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: once ? 'REJECT_DUPLICATE' : 'ALLOW_DUPLICATE',
    priority: { fairnessKey: fairnessKey(input.accountId) },
    // What a fork of it runs in, read with its description (no query to its workflow).
    memo: { template: input.template ?? null, ...(peer ? { peer } : {}) },
    typedSearchAttributes: [
      { key: SA_ACCOUNT, value: input.accountId },
      { key: SA_CAPABILITY, value: 'terminalExec' },
      { key: SA_RUNTIME, value: 'terminal' },
      { key: SA_SESSION, value: input.sessionId },
    ],
  });
}

/** Beyond a call's own timeout, how long its stream stays open to the host: a session starting or moving first. */
const STREAM_GRANT_SLACK_MS = 10 * 60_000;
/** A first command's grant to store its effect: its time, the start of its container and the store's patience. */
const DURABLE_GRANT_SLACK_MS = 10 * 60_000;

/** How often a session in use through its streams tells its workflow so. */
const USED_SIGNAL_MS = 15_000;

/** A change to a session's files made through this process (SessionService.onChange). */
export interface SessionChange { accountId: string; sessionId: string; paths: string[] }

/** File calls that change nothing. */
const READING_OPS = new Set<FileOp['op']>(['read', 'list', 'glob', 'grep']);

export class SessionService {
  /** Calls in flight per session workflow from this process; the rest queue (see KeyedGate). */
  private readonly inflight: KeyedGate;

  constructor(
    private readonly client: Client,
    private readonly config: ApiSettings,
    private readonly runtimeHasWorker: (runtime: string) => Promise<boolean>,
    private readonly quotas: Quotas,
    private readonly templates: TemplateService,
    private readonly snapshots: SnapshotStore,
  ) {
    this.inflight = new KeyedGate(config.session.maxInflightCalls);
  }

  /**
   * The grant to post a call's output to its stream: for whichever host runs the step (the session may
   * move), for as long as the call may wait and run.
   */
  /**
   * With zero loss, the grant the host that takes a new session's start step stores its first command's
   * effect under: the session's first container (generation 1), whichever host takes it, for the command's
   * time. Signed here, like output grants, so a session that never moves needs no grant from its workflow
   * before its first answer.
   */
  private durableGrant(accountId: string, sessionId: string, timeoutMs: number): { durableGrant?: string } {
    const s = this.config.session;
    if (s.durability !== 'zero' || s.checkpointSec === 0) return {};
    return { durableGrant: signGrant(this.config.hashKey!, { k: 'snapshot', a: accountId, s: sessionId, h: ANY_HOST, x: Date.now() + timeoutMs + DURABLE_GRANT_SLACK_MS, g: 1 }) };
  }

  private streamGrant(streamId: string | undefined, timeoutMs: number): string | undefined {
    if (!streamId) return undefined;
    return signGrant(this.config.hashKey!, { k: 'output', s: streamId, h: ANY_HOST, x: Date.now() + timeoutMs + STREAM_GRANT_SLACK_MS });
  }

  workflowId(accountId: string, sessionId: string): string {
    return sessionWorkflowId(accountId, sessionId);
  }

  /** Every step's effect is in the snapshot store before it answers: an empty chain is an empty workspace. */
  private get zeroLoss(): boolean {
    return this.config.session.durability === 'zero' && this.config.session.checkpointSec > 0;
  }

  /** A new session's workflow input: the platform's session settings, and what this start brings. */
  private startInput(accountId: string, sessionId: string, start: Pick<SessionWorkflowInput, 'initialLeaseSec' | 'firstCommand' | 'template' | 'restoreAtStart'>): SessionWorkflowInput {
    const s = this.config.session;
    return {
      sessionId,
      accountId,
      lease: { defaultSec: s.leaseDefaultSec, minSec: s.leaseMinSec, maxSec: s.leaseMaxSec, maxLifetimeMs: s.maxLifetimeSec * 1000 },
      hostTimeoutMs: s.hostTimeoutMs,
      heartbeatTimeoutMs: this.config.activityHeartbeatTimeoutMs,
      commandsPerRun: s.commandsPerRun,
      checkpointMs: s.checkpointSec * 1000,
      pauseAfterMs: s.pauseAfterSec * 1000,
      hostGoneMs: s.hostGoneSec * 1000,
      durability: s.durability,
      ...(start.initialLeaseSec !== undefined ? { initialLeaseSec: start.initialLeaseSec } : {}),
      ...(start.firstCommand ? { firstCommand: start.firstCommand } : {}),
      ...(start.template ? { template: start.template } : {}),
      ...(start.restoreAtStart ? { restoreAtStart: start.restoreAtStart } : {}),
    };
  }

  /**
   * Tells `listener` of every change to a session's files this process made: the paths a file call wrote,
   * or none when a command or a cell ran (it may have changed any file) or the session began or ended.
   */
  onChange(listener: (change: SessionChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private readonly changeListeners = new Set<(change: SessionChange) => void>();

  private changed(change: SessionChange): void {
    for (const l of this.changeListeners) {
      try {
        l(change);
      } catch {
        // A listener's failure is its own: the call it observes has already succeeded.
      }
    }
  }

  /** Runs a command; with no session_id (or create_if_missing) the session is created by this call. */
  async exec(accountId: string, input: TerminalExecInput, requestKey?: string, streamId?: string): Promise<TerminalExecOutput> {
    const out = await this.execCommand(accountId, input, requestKey, streamId);
    this.changed({ accountId, sessionId: out.session_id, paths: [] });
    return out;
  }

  private async execCommand(accountId: string, input: TerminalExecInput, requestKey?: string, streamId?: string): Promise<TerminalExecOutput> {
    const creating = !input.session_id || input.create_if_missing;
    if (input.template !== undefined && !creating) {
      throw new DuraboxError('invalid_input', 'template: only when the call creates the session (no session_id, or create_if_missing); a session runs in the template it was created with');
    }
    if (input.from_snapshot !== undefined && !creating) {
      throw new DuraboxError('invalid_input', 'from_snapshot: only when the call creates the session (no session_id, or create_if_missing); this call joins session ' + input.session_id);
    }
    if (input.fork_from !== undefined) {
      if (!creating) throw new DuraboxError('invalid_input', 'fork_from: only when the call creates the session (no session_id, or create_if_missing); this call joins session ' + input.session_id);
      if (input.from_snapshot !== undefined) throw new DuraboxError('invalid_input', 'fork_from: a new session starts from a snapshot (from_snapshot) or a fork of a session (fork_from), not both');
      if (input.template !== undefined) throw new DuraboxError('invalid_input', 'template: a fork runs in the template of the session it forks (fork_from)');
    }
    // The same request key never runs a command twice in a session: Temporal dedupes update ids within a
    // run, and the session answers a retry in a later run (after continue-as-new) from its kept answers.
    const requestHash = requestKey ? createHash('sha256').update(`${accountId}\0${requestKey}`).digest('hex') : undefined;
    const updateId = requestHash;
    // A new session asked for with a request key is named after it, so a retry finds the same session
    // (and, through the update id, the same result) instead of creating a second one.
    const keyedNew = !input.session_id && requestHash !== undefined;
    const sessionId = input.session_id ?? (keyedNew ? `sess_${requestHash.slice(0, 32)}` : newSessionId());
    const workflowId = this.workflowId(accountId, sessionId);
    const streamGrant = this.streamGrant(streamId, input.timeout_ms);
    const req: SessionExecRequest = {
      command: input.command, timeout_ms: input.timeout_ms, lease_ttl_sec: input.lease_ttl_sec, created: false, stream_id: streamId, stream_grant: streamGrant,
      ...(requestHash !== undefined ? { request_hash: requestHash } : {}),
      ...(input.template !== undefined ? { template: input.template } : {}),
      ...(input.from_snapshot !== undefined ? { from_snapshot: input.from_snapshot } : {}),
      ...(input.fork_from !== undefined ? { fork_from: input.fork_from } : {}),
    };
    // When this call starts the session, its command rides along with the start (ignored if it joins one).
    const firstCommand = { id: randomUUID(), command: input.command, timeoutMs: input.timeout_ms, streamId, streamGrant, ...this.durableGrant(accountId, sessionId, input.timeout_ms) };
    let copied = false;
    try {
      if (!creating) {
        return await this.inflight.run(workflowId, () => this.client.workflow.getHandle(workflowId).executeUpdate(execUpdate, { args: [req], updateId }));
      }
      // A snapshot the account lacks is refused before any session exists; its template is the session's by default.
      const snapshot = input.from_snapshot !== undefined ? await this.snapshots.getNamed(accountId, input.from_snapshot) : undefined;
      if (input.from_snapshot !== undefined && !snapshot) throw new DuraboxError('snapshot_not_found', `from_snapshot: the account has no snapshot ${input.from_snapshot}`);
      // A template the account lacks, or one not ready, is refused before any session exists; a fork runs in its source's.
      const template = input.fork_from !== undefined
        ? (await this.templateOf(accountId, input.fork_from, 'fork_from')) ?? undefined
        : await this.templates.resolve(accountId, input.template ?? snapshot?.template ?? undefined, 'terminal');
      if (!(await this.runtimeHasWorker('terminal'))) throw new DuraboxError('no_worker', 'no online worker serves runtime terminal');
      // create_if_missing on a live session only joins it, which the limit allows.
      await this.quotas.admitSession(accountId, workflowId, () => this.isRunning(workflowId));
      // The snapshot's (or the forked session's) chain becomes the new session's. A live session of that id
      // (create_if_missing, or a retried request_id) is joined, never written over: its workflow refuses a
      // from_snapshot or fork_from it was not started from.
      let restoreAtStart: SessionWorkflowInput['restoreAtStart'];
      const joinsLive = (input.session_id !== undefined || keyedNew) && (await this.isRunning(workflowId));
      if (snapshot && !joinsLive) {
        const copy = await this.snapshots.copyNamedToSession(accountId, snapshot.name, sessionId);
        if (!copy) throw new DuraboxError('snapshot_not_found', `from_snapshot: the account has no snapshot ${snapshot.name}`);
        copied = copy.parts.length > 0;
        const record = chainRecord(copy.parts);
        restoreAtStart = { source: { snapshot: snapshot.name }, ...(record ? { checkpoint: record } : {}) };
      } else if (input.fork_from !== undefined && !joinsLive) {
        restoreAtStart = await this.forkChain(accountId, input.fork_from, sessionId);
        copied = restoreAtStart.checkpoint !== undefined;
      }
      const start = sessionStartOperation(this.startInput(accountId, sessionId, { initialLeaseSec: input.lease_ttl_sec, firstCommand, template, restoreAtStart }), keyedNew);
      return await this.inflight.run(workflowId, () =>
        this.client.workflow.executeUpdateWithStart(execUpdate, { args: [{ ...req, created: true, first_id: firstCommand.id }], startWorkflowOperation: start, updateId }));
    } catch (e) {
      // A copy for a session that was never started (its id was used already) goes again.
      if (copied && e instanceof WorkflowExecutionAlreadyStartedError) await this.snapshots.drop(accountId, sessionId).catch(() => undefined);
      throw await this.explain(e, accountId, sessionId);
    }
  }

  /**
   * A new session (new id, the same template) from the session's latest stored state: its chain is copied
   * to the new id, and the new session's first container, on any host, is restored from it. The source goes
   * on untouched, paused or live. Answers once the new session has its container.
   */
  async fork(accountId: string, sourceId: string, opts: { lease_ttl_sec?: number } = {}): Promise<z.output<typeof ForkedSession>> {
    const template = await this.templateOf(accountId, sourceId);
    if (!(await this.runtimeHasWorker('terminal'))) throw new DuraboxError('no_worker', 'no online worker serves runtime terminal');
    const sessionId = newSessionId();
    const workflowId = this.workflowId(accountId, sessionId);
    await this.quotas.admitSession(accountId, workflowId, () => this.isRunning(workflowId));
    const restoreAtStart = await this.forkChain(accountId, sourceId, sessionId);
    const start = sessionStartOperation(this.startInput(accountId, sessionId, { initialLeaseSec: opts.lease_ttl_sec, template: template ?? undefined, restoreAtStart }));
    try {
      const s = await this.inflight.run(workflowId, () => this.client.workflow.executeUpdateWithStart(readyUpdate, { args: [], startWorkflowOperation: start }));
      return { ...s, created: true, forked_from: sourceId };
    } catch (e) {
      throw await this.explain(e, accountId, sessionId);
    }
  }

  /**
   * A new session with no command: answers once it has its first container. What peer SDKs' create calls
   * are (peer/); `peer` goes into its memo, for their get and list.
   */
  async create(accountId: string, opts: { template?: string; lease_ttl_sec?: number; peer?: PeerMemo } = {}): Promise<SessionSummary> {
    const template = await this.templates.resolve(accountId, opts.template, 'terminal');
    if (!(await this.runtimeHasWorker('terminal'))) throw new DuraboxError('no_worker', 'no online worker serves runtime terminal');
    const sessionId = newSessionId();
    const workflowId = this.workflowId(accountId, sessionId);
    await this.quotas.admitSession(accountId, workflowId, () => this.isRunning(workflowId));
    const start = sessionStartOperation(this.startInput(accountId, sessionId, { initialLeaseSec: opts.lease_ttl_sec, template }), false, opts.peer);
    try {
      const s = await this.inflight.run(workflowId, () => this.client.workflow.executeUpdateWithStart(readyUpdate, { args: [], startWorkflowOperation: start }));
      if (s.ended_reason === 'start_failed') throw new DuraboxError('execution_failed', `session ${sessionId} could not start`, { session_id: sessionId });
      return s;
    } catch (e) {
      throw await this.explain(e, accountId, sessionId);
    }
  }

  /** Pauses the session now: checkpointed, its container removed; the next call (or resume) brings it back on any host. */
  async pause(accountId: string, sessionId: string): Promise<SessionSummary> {
    return this.updateSession(accountId, sessionId, (h) => h.executeUpdate(pauseUpdate));
  }

  /** Brings a paused session back into a container now, rather than with its next call. */
  async resume(accountId: string, sessionId: string): Promise<SessionSummary> {
    return this.updateSession(accountId, sessionId, (h) => h.executeUpdate(resumeUpdate));
  }

  /** Sets the session's lease to end ttlSec from now (shorter or longer, within the lease bounds). */
  async setLease(accountId: string, sessionId: string, ttlSec: number): Promise<SessionSummary> {
    return this.updateSession(accountId, sessionId, (h) => h.executeUpdate(leaseUpdate, { args: [{ ttl_sec: ttlSec }] }));
  }

  /** The account's running sessions with their memos, newest first (at most `max`). */
  async running(accountId: string, max = 1000): Promise<RunningSession[]> {
    const query = `WorkflowType = 'sessionWorkflow' AND ${SA_ACCOUNT.name} = ${quote(accountId)} AND ExecutionStatus = 'Running'`;
    const out: RunningSession[] = [];
    for await (const w of this.client.workflow.list({ query, pageSize: Math.min(1000, max) })) {
      const memo = (w.memo ?? {}) as Memo;
      out.push({
        sessionId: w.typedSearchAttributes.get(SA_SESSION) ?? w.workflowId,
        createdAt: w.startTime,
        paused: memo.paused === true,
        host: memo.paused ? null : memo.host ?? null,
        leaseExpiresMs: memo.lease_expires_unix_ms ?? null,
        ...(memo.peer ? { peer: memo.peer } : {}),
      });
      if (out.length >= max) break;
    }
    return out;
  }

  /** What a session's memo says it is for a peer SDK (undefined: not a session of the account, or ended). */
  async peerOf(accountId: string, sessionId: string): Promise<{ peer?: PeerMemo; createdAt: Date } | undefined> {
    const d = await this.client.workflow.getHandle(this.workflowId(accountId, sessionId)).describe().catch(() => undefined);
    if (!d || d.status.name !== 'RUNNING' || d.typedSearchAttributes.get(SA_ACCOUNT) !== accountId) return undefined;
    const memo = ((await d.memo) ?? {}) as Memo;
    return { ...(memo.peer ? { peer: memo.peer } : {}), createdAt: d.startTime };
  }

  /**
   * Copies a live session's chain to a new session's id (docs/sessions/fork-and-snapshots.md): what the new
   * session's workflow starts restored from. With zero loss an empty chain is an empty workspace; otherwise
   * a session with no checkpoint yet is refused.
   */
  private async forkChain(accountId: string, sourceId: string, sessionId: string): Promise<NonNullable<SessionWorkflowInput['restoreAtStart']>> {
    const parts = await this.snapshots.copyChain(accountId, sourceId, sessionId);
    if (parts.length === 0 && !this.zeroLoss) {
      throw new DuraboxError('conflict', `session ${sourceId} has no checkpoint yet to fork from (with DURABOX_SESSION_DURABILITY=interval its first comes after DURABOX_SESSION_CHECKPOINT_SEC); try again shortly`, { session_id: sourceId });
    }
    const record = chainRecord(parts);
    return { source: { session: sourceId }, ...(record ? { checkpoint: record } : {}) };
  }

  /** The template a live session of the account runs in (null: the built-in one); else session_not_found, naming `field` when given. */
  async templateOf(accountId: string, sessionId: string, field?: string): Promise<TemplateRef | null> {
    try {
      return await this.onSession(accountId, sessionId, async (h) => {
        const d = await h.describe();
        if (d.status.name !== 'RUNNING' || d.typedSearchAttributes.get(SA_ACCOUNT) !== accountId) throw new DuraboxError('session_not_found', `no session ${sessionId}`);
        // The start's memo names it; a run continued as new (or started before that) is asked.
        const memo = (d.memo ?? {}) as { template?: TemplateRef | null };
        return 'template' in memo ? memo.template ?? null : h.query(templateQuery);
      });
    } catch (e) {
      if (field && e instanceof DuraboxError && e.code === 'session_not_found') throw new DuraboxError('session_not_found', `${field}: ${e.message}`, e.details);
      throw e;
    }
  }

  /**
   * Keeps the live session's chain as the account's snapshot `name`, within its quota. With zero loss an
   * empty chain is an empty workspace; otherwise a session with no checkpoint yet is refused.
   */
  async saveSnapshot(accountId: string, sessionId: string, name: string) {
    const template = await this.templateOf(accountId, sessionId);
    const quota = await this.quotas.snapshotQuota(accountId);
    return this.snapshots.saveNamed(accountId, sessionId, name, { template: template?.name ?? null, quota, emptyOk: this.zeroLoss });
  }

  /** Runs a cell in one of the session's interpreter contexts (the session must exist). */
  async runCode(accountId: string, input: RunCodeInput, requestKey?: string, streamId?: string): Promise<RunCodeOutput> {
    const out = await this.runCell(accountId, input, requestKey, streamId);
    this.changed({ accountId, sessionId: input.session_id!, paths: [] });
    return out;
  }

  private async runCell(accountId: string, input: RunCodeInput, requestKey?: string, streamId?: string): Promise<RunCodeOutput> {
    const sessionId = input.session_id!;
    const updateId = requestKey ? createHash('sha256').update(`${accountId}\0code\0${requestKey}`).digest('hex') : undefined;
    return this.updateSession(accountId, sessionId, (h) => h.executeUpdate(codeUpdate, {
      args: [{
        code: input.code, language: input.language, context_id: input.context_id, timeout_ms: input.timeout_ms, stream_id: streamId, stream_grant: this.streamGrant(streamId, input.timeout_ms),
        ...(updateId !== undefined ? { request_hash: updateId } : {}),
      }],
      updateId,
    }));
  }

  async createContext(accountId: string, sessionId: string, language: Language): Promise<ContextView> {
    return this.updateSession(accountId, sessionId, (h) => h.executeUpdate(createContextUpdate, { args: [{ language }] }));
  }

  async deleteContext(accountId: string, sessionId: string, contextId: string): Promise<void> {
    await this.updateSession(accountId, sessionId, (h) => h.executeUpdate(deleteContextUpdate, { args: [contextId] }));
  }

  /** The session's contexts; an ended or unknown session is session_not_found. */
  async contexts(accountId: string, sessionId: string): Promise<ContextView[]> {
    return this.onSession(accountId, sessionId, async (h) => {
      // An ended workflow still answers queries: only a running session of this account has contexts.
      const d = await h.describe();
      if (d.status.name !== 'RUNNING' || d.typedSearchAttributes.get(SA_ACCOUNT) !== accountId) throw new DuraboxError('session_not_found', `no session ${sessionId}`);
      return h.query(contextsQuery);
    });
  }

  async file(accountId: string, sessionId: string, op: FileOp): Promise<FileResult> {
    const r = await this.updateSession(accountId, sessionId, (h) => h.executeUpdate(fileUpdate, { args: [op] }));
    if (!READING_OPS.has(op.op)) this.changed({ accountId, sessionId, paths: 'to' in r ? [r.path, r.to] : [r.path] });
    return r;
  }

  /**
   * Where the session's container runs now, for a stream into it (a port, the browser, a terminal). A paused
   * session, or one whose host was lost, is brought back first by a read-only step, as any call would.
   */
  async placement(accountId: string, sessionId: string): Promise<{ hostId: string; containerId: string }> {
    for (let attempt = 0; ; attempt++) {
      const p = await this.onSession(accountId, sessionId, async (h) => {
        const d = await h.describe();
        if (d.status.name !== 'RUNNING' || d.typedSearchAttributes.get(SA_ACCOUNT) !== accountId) throw new DuraboxError('session_not_found', `no session ${sessionId}`);
        return h.query(placementQuery);
      });
      if (p) return p;
      if (attempt === 2) throw new DuraboxError('session_busy', `session ${sessionId} is moving between hosts; try again`);
      await this.file(accountId, sessionId, { op: 'list', path: '/workspace' });
    }
  }

  /**
   * The session was used through a stream (its terminal, a port): it does not pause under its user, and an
   * idle checkpoint stores what changed. Sent at most every USED_SIGNAL_MS per session by this process,
   * unless `now` (a terminal viewer leaving).
   */
  async used(accountId: string, sessionId: string, now = false): Promise<void> {
    const id = this.workflowId(accountId, sessionId);
    const last = this.lastUsedSignal.get(id) ?? 0;
    if (!now && Date.now() - last < USED_SIGNAL_MS) return;
    this.lastUsedSignal.set(id, Date.now());
    if (this.lastUsedSignal.size > 10_000) this.lastUsedSignal.delete(this.lastUsedSignal.keys().next().value!);
    await this.client.workflow.getHandle(id).signal(usedSignal).catch(() => undefined);
  }

  private readonly lastUsedSignal = new Map<string, number>();

  async close(accountId: string, sessionId: string): Promise<SessionSummary> {
    const summary = await this.updateSession(accountId, sessionId, (h) => h.executeUpdate(closeUpdate));
    this.quotas.sessionEnded(accountId, this.workflowId(accountId, sessionId));
    this.changed({ accountId, sessionId, paths: [] });
    return summary;
  }

  private async isRunning(workflowId: string): Promise<boolean> {
    const d = await this.client.workflow.getHandle(workflowId).describe().catch(() => undefined);
    return d?.status.name === 'RUNNING';
  }

  /** An Update of the session's workflow, sent in its turn (Temporal bounds the Updates in flight per workflow). */
  private updateSession<T>(accountId: string, sessionId: string, call: (h: WorkflowHandle<typeof sessionWorkflow>) => Promise<T>): Promise<T> {
    return this.inflight.run(this.workflowId(accountId, sessionId), () => this.onSession(accountId, sessionId, call));
  }

  /** A call to the session's workflow, its failures told as session errors. */
  private async onSession<T>(accountId: string, sessionId: string, call: (h: WorkflowHandle<typeof sessionWorkflow>) => Promise<T>): Promise<T> {
    try {
      return await call(this.client.workflow.getHandle(this.workflowId(accountId, sessionId)));
    } catch (e) {
      throw await this.explain(e, accountId, sessionId);
    }
  }

  /** The session as its workflow knows it: live state by query, or the final summary once ended. */
  async get(accountId: string, sessionId: string): Promise<SessionSummary | undefined> {
    const handle = this.client.workflow.getHandle(this.workflowId(accountId, sessionId));
    try {
      const d = await handle.describe();
      if (d.typedSearchAttributes.get(SA_ACCOUNT) !== accountId) return undefined;
      if (d.status.name === 'RUNNING' || d.status.name === 'CONTINUED_AS_NEW') return await handle.query(stateQuery);
      if (d.status.name === 'COMPLETED') return await handle.result();
      return { session_id: sessionId, status: 'ended', host: null, created_at: d.startTime.toISOString(), lease_expires_unix_ms: null, commands: 0, ended_reason: 'closed' };
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return undefined;
      throw e;
    }
  }

  async list(accountId: string, q: { status: 'active' | 'ended' | 'all'; page: number; page_size: number }): Promise<Page<SessionListItem>> {
    const clauses = [`WorkflowType = 'sessionWorkflow'`, `${SA_ACCOUNT.name} = ${quote(accountId)}`];
    if (q.status === 'active') clauses.push(`ExecutionStatus = 'Running'`);
    if (q.status === 'ended') clauses.push(`ExecutionStatus != 'Running'`);
    return listPage(this.client, clauses.join(' AND '), q.page, q.page_size, (w): SessionListItem => {
      const memo = (w.memo ?? {}) as Memo;
      const running = w.status.name === 'RUNNING';
      return {
        session_id: w.typedSearchAttributes.get(SA_SESSION) ?? w.workflowId,
        workflow_id: w.workflowId,
        status: !running ? 'ended' : memo.paused ? 'paused' : 'active',
        host: memo.paused ? null : memo.host ?? null,
        created_at: w.startTime.toISOString(),
        lease_expires_unix_ms: memo.lease_expires_unix_ms ?? null,
        commands: 0,
        ...(running ? {} : { ended_at: w.closeTime?.toISOString(), ended_reason: w.typedSearchAttributes.get(SA_ERROR) === 'session_lost' ? 'session_lost' : undefined }),
      };
    });
  }

  /** Turns what Temporal said into a session error: not found, busy, lost, timeout, … */
  private async explain(e: unknown, accountId: string, sessionId: string): Promise<unknown> {
    if (e instanceof DuraboxError) return e;
    if (e instanceof WorkflowExecutionAlreadyStartedError) {
      // Only a session named after a request key refuses a second start: that request already ran.
      return new DuraboxError('conflict', `request_id was already used for session ${sessionId}, which has ended; use a new request_id`);
    }
    if (e instanceof WorkflowUpdateFailedError && e.cause instanceof ApplicationFailure) {
      const c = e.cause;
      const details = (c.details?.[0] ?? undefined) as Record<string, unknown> | undefined;
      return new DuraboxError(isErrorCode(c.type) ? c.type : 'execution_failed', c.message, details ? { ...details, session_id: sessionId } : { session_id: sessionId });
    }
    // Temporal's own limit on a workflow's in-flight Updates, reached despite the gate (several API processes).
    if (isResourceExhausted(e)) {
      return new DuraboxError('rate_limited', `session ${sessionId} has too many calls in flight; retry shortly`, { session_id: sessionId });
    }
    // An update to a closed session: say whether it ended normally or lost its host.
    const msg = (e as Error).message ?? '';
    if (e instanceof WorkflowNotFoundError || /already completed|not found/i.test(msg)) {
      const s = await this.get(accountId, sessionId).catch(() => undefined);
      if (s?.ended_reason === 'session_lost') return new DuraboxError('session_lost', `session ${sessionId} lost its host`);
      return new DuraboxError('session_not_found', `no session ${sessionId}`);
    }
    return e;
  }
}


function newSessionId(): string {
  return `sess_${randomUUID().replaceAll('-', '')}`;
}

/** Temporal's RESOURCE_EXHAUSTED (gRPC code 8), on the error or its cause. */
function isResourceExhausted(e: unknown): boolean {
  for (let x = e as { code?: unknown; cause?: unknown } | undefined, depth = 0; x && depth < 4; x = x.cause as typeof x, depth++) {
    if (x.code === 8 || (x instanceof Error && /RESOURCE_EXHAUSTED|in-flight updates/i.test(x.message))) return true;
  }
  return false;
}
