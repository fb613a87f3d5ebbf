// A terminal session IS this workflow: its host, its container, its lease and its end live in workflow
// state. The container is created on any host serving the terminal runtime; that host answers with its
// own task queue, and every later step runs there (Temporal's worker-specific task queue pattern).
import {
  ActivityFailure, ApplicationFailure, TimeoutFailure, allHandlersFinished, condition, continueAsNew, defineQuery,
  defineSignal, defineUpdate, patched, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertMemo, upsertSearchAttributes, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { Durable, HostActivities, SessionStartActivities, Stored } from '../activities/terminal.js';
import type { ControlActivities } from '../control/activities.js';
import type {
  CheckpointResult, ContextView, FileOp, FileResult, HostExecResult, KeptAnswer, Language, RunCodeOutput, SessionCodeRequest, SessionEndReason, SessionExecRequest,
  SessionState, SessionSummary, SessionWorkflowInput, TerminalExecOutput,
} from '../contract/messages.js';
import { ANY_HOST, CONTROL_TASK_QUEUE, runtimeTaskQueue } from '../contract/queues.js';
import { SA_ERROR, SA_HOST } from '../contract/search-attributes.js';
import type { TemplateRef } from '../contract/templates.js';
import {
  afterMove, afterStep, afterStored, compactionDue, defaultContextId, dueAction, failureAction, hostVerdict, idlePlan, keepAnswer, keptAnswer, nextGeneration, phaseOf,
  restoredFields, startedFromNote, statusOf,
  type Kept, type Refused, type RestoreReason, type StepFailure,
} from './session-machine.js';


export const execUpdate = defineUpdate<TerminalExecOutput, [SessionExecRequest]>('exec');
export const fileUpdate = defineUpdate<FileResult, [FileOp]>('file');

/** File calls that only read: nothing of theirs is stored, however the session's durability is set. */
const READ_ONLY_FILE_OPS: ReadonlyArray<FileOp['op']> = ['read', 'list', 'glob', 'grep'];
export const closeUpdate = defineUpdate<SessionSummary, []>('close');
/**
 * Answers once the session has its first container (or failed to start): a fork's start waits on it. A
 * session from a copied chain says here what of the chain its restore refused.
 */
export const readyUpdate = defineUpdate<SessionSummary & { restored_note?: string }, []>('ready');
export const codeUpdate = defineUpdate<RunCodeOutput, [SessionCodeRequest]>('code');
export const createContextUpdate = defineUpdate<ContextView, [{ language: Language }]>('createContext');
export const deleteContextUpdate = defineUpdate<void, [string]>('deleteContext');
export const stateQuery = defineQuery<SessionSummary>('state');
export const contextsQuery = defineQuery<ContextView[]>('contexts');
/**
 * The session was used through a stream, not a step (typing in its terminal, a request to one of its ports):
 * it counts as used now, so it does not pause under its user, and its workspace may have changed, so an
 * idle checkpoint stores what the terminal did (docs/workbench/terminal.md).
 */
export const usedSignal = defineSignal('used');
/** Where the session's container runs now, for the workbench's streams into it (none: paused, moving or ended). */
export const placementQuery = defineQuery<{ hostId: string; containerId: string } | null>('placement');
/** The account template the session runs in (null: the built-in terminal one): a fork runs in the same. */
export const templateQuery = defineQuery<TemplateRef | null>('template');
/**
 * Pauses the session now (as an idle one pauses by itself): its workspace is checkpointed and its container
 * removed. Answers the session as it then is; a step that arrived meanwhile keeps the container (active).
 */
export const pauseUpdate = defineUpdate<SessionSummary, []>('pause');
/** Brings a paused (or homeless) session back into a container on any host, as its next step would. */
export const resumeUpdate = defineUpdate<SessionSummary, []>('resume');
/** Sets the lease to end ttl_sec from now, shorter or longer (within the policy's bounds and the lifetime). */
export const leaseUpdate = defineUpdate<SessionSummary, [{ ttl_sec: number }]>('lease');

/** How many interpreter contexts a session may hold at once: each is a process in its container. */
export const MAX_CONTEXTS_PER_SESSION = 16;

/** How many hosts a new session tries when each it reaches already holds its most sessions. */
export const HOST_FULL_ATTEMPTS = 4;
/** Patch id: the memo is written only where it changed (see showMemo). */
const MEMO_CHANGES_ONLY = 'memo-changes-only';
/** Patch id: checkpoint steps carry a grant for the session's checkpoint, signed by a local activity. */
const HOST_GRANTS = 'host-grants';
/** Patch id: a keyed call retried in a later run is answered from the answers carried over (no step, no memo). */
const KEPT_ANSWERS = 'kept-answers';
/** How long a step's grant to store a checkpoint lives (its step's bound, with room). */
const CHECKPOINT_GRANT_MS = 15 * 60_000;
/** How long a restore's grant to read the checkpoint lives: the longest wait for a host and the restore. */
const RESTORE_GRANT_MS = 10 * 60_000;

/** How long a host's grant to store checkpoint parts lives; it is signed again when less than a step's bound is left. */
const STORE_GRANT_MS = 60 * 60_000;
const STORE_GRANT_RENEW_MS = 20 * 60_000;
/**
 * Signs grants, and asks when a host last reported, in the control worker that runs this workflow: no key
 * is ever in workflow code or history.
 */
const grants = proxyLocalActivities<ControlActivities>({ startToCloseTimeout: '10s', retry: { maximumAttempts: 5 } });
/** The control worker's activities, run as ordinary activities on its queue. */
const control = proxyActivities<ControlActivities>({ taskQueue: CONTROL_TASK_QUEUE, startToCloseTimeout: '10s', retry: { maximumAttempts: 5 } });

/** A caller's command that runs in the same step as the session's restore (one activity, not two). */
type Aboard = { command: string; timeoutMs: number; streamId?: string; streamGrant?: string };

export async function sessionWorkflow(input: SessionWorkflowInput): Promise<SessionSummary> {
  let state: SessionState | undefined = input.carried;
  let busy = false;
  let ended: SessionEndReason | undefined;
  let closing = false;
  let runCommands = 0;
  let startError: { type: string; message: string } | undefined;
  let firstCommandTaken = false;
  /** What the restore of a session started from a copied chain refused (said to the calls that started it). */
  let startRefused: Refused | undefined;
  /** The result of the creating call's command, run by the start activity; consumed by its update. */
  let firstResult: HostExecResult | undefined;
  /** The answers of the latest keyed calls, this run's and those carried over (see KeptAnswer). */
  let answered: KeptAnswer[] = input.answered ?? [];
  const createdAtMs = state?.createdAtMs ?? Date.now();
  const deadlineMs = createdAtMs + input.lease.maxLifetimeMs;
  /** A session of checkpoint chains and container generations (one started since they exist). */
  const chains = input.hostGoneMs !== undefined;
  /** Every step that may change /workspace stores its effect before it answers (spec §6: zero loss). */
  const zeroLoss = chains && input.durability === 'zero' && (input.checkpointMs ?? 0) > 0;
  /** How many times one step waits for a silent host that may come back before it counts as gone. */
  const maxHostWaits = chains ? Math.ceil((3 * input.hostGoneMs!) / input.hostTimeoutMs) + 1 : 0;

  const summary = (): SessionSummary => ({
    session_id: input.sessionId,
    status: statusOf(phaseOf({ state, ended: ended !== undefined, closing, busy, moving })),
    host: state?.paused ? null : state?.hostId ?? null,
    created_at: new Date(createdAtMs).toISOString(),
    lease_expires_unix_ms: state?.leaseExpiresAtMs ?? null,
    commands: state?.commands ?? 0,
    ...(ended ? { ended_reason: ended } : {}),
    ...(state?.checkpoint ? { checkpoint: { at: new Date(state.checkpoint.atMs).toISOString(), bytes: state.checkpoint.bytes, raw_bytes: state.checkpoint.raw_bytes } } : {}),
  });

  /** The checkpoint goes with its session. */
  const dropChain = () => dropChainOf(input.accountId, input.sessionId);

  // The memo as last written: a field is written again only when its value changed, so a workflow task that
  // extends the lease twice (a command's start and end in one task) writes it once. Every memo write is an
  // event and a visibility update. Runs that began before this wrote on every call, and replay keeps that.
  const memoShown: Record<string, unknown> = {};
  const showMemo = (fields: Record<string, unknown>) => {
    const changed = patched(MEMO_CHANGES_ONLY) ? Object.fromEntries(Object.entries(fields).filter(([k, v]) => memoShown[k] !== v)) : fields;
    if (Object.keys(changed).length === 0) return;
    Object.assign(memoShown, changed);
    upsertMemo(changed);
  };

  /** Extends the lease, never shortens it, within the policy's bounds and the hard lifetime. */
  const extendLease = (ttlSec?: number, alsoShow: Record<string, unknown> = {}) => {
    if (!state) return;
    const p = input.lease;
    const ttl = Math.min(p.maxSec, Math.max(p.minSec, ttlSec ?? p.defaultSec));
    state.leaseExpiresAtMs = Math.min(deadlineMs, Math.max(state.leaseExpiresAtMs, Date.now() + ttl * 1000));
    showMemo({ ...alsoShow, lease_expires_unix_ms: state.leaseExpiresAtMs, host: state.hostId });
  };

  const host = () =>
    proxyActivities<HostActivities>({
      taskQueue: state!.hostQueue,
      // The host's worker always polls its own queue; silence this long means the host is gone.
      scheduleToStartTimeout: input.hostTimeoutMs,
      startToCloseTimeout: '11m',
      heartbeatTimeout: input.heartbeatTimeoutMs,
      // A command must never run twice, and the container exists only on that host: no retries.
      retry: { maximumAttempts: 1 },
    });

  const first = input.firstCommand;
  /**
   * A container for this session on any terminal host: a new one (with the creating call's command), or,
   * when `restore`, one with the session's checkpoint unpacked (and the caller's command `aboard` run in
   * the same step).
   */
  const takeContainer = async (restore: boolean, aboard?: Aboard) => {
    const command = restore ? aboard : first && { command: first.command, timeoutMs: first.timeoutMs, streamId: first.streamId, streamGrant: first.streamGrant };
    // The new container's generation: one past any handed out, so the container it replaces can no longer write.
    const generation = chains ? nextGeneration(state) : undefined;
    if (state && generation !== undefined) state.claimed = generation;
    const ttlMs = RESTORE_GRANT_MS + (command?.timeoutMs ?? 0);
    const snapshotGrant = restore && patched(HOST_GRANTS)
      ? await grants.signSnapshotGrant({ accountId: input.accountId, sessionId: input.sessionId, hostId: ANY_HOST, ttlMs, ...(generation !== undefined ? { generation } : {}) })
      : undefined;
    // A zero-loss session's command aboard stores its effect before it answers, from whichever host takes
    // it: a restore's under the restore's grant, a new session's under the grant the API signed with it.
    const durableGrant = restore ? snapshotGrant : first?.durableGrant;
    const durable: Durable | undefined = command && zeroLoss && durableGrant ? { accountId: input.accountId, sessionId: input.sessionId, grant: durableGrant } : undefined;
    const via = proxyActivities<SessionStartActivities>({
      taskQueue: runtimeTaskQueue('terminal'),
      // No terminal host took the session in time: the hosts are saturated or there are none.
      scheduleToStartTimeout: '30s',
      startToCloseTimeout: (command?.timeoutMs ?? 0) + (restore ? 300_000 : 120_000),
      heartbeatTimeout: input.heartbeatTimeoutMs,
      // With a command aboard a retry could run it twice: then the caller retries instead. A full host
      // refuses before it runs anything: the workflow asks again, and another host may take it.
      retry: { initialInterval: '200ms', maximumAttempts: command ? 1 : 3, nonRetryableErrorTypes: ['host_full', 'session_lost'] },
    });
    for (let attempt = 1; ; attempt++) {
      try {
        const c = await via.createSessionContainer({
          sessionId: input.sessionId,
          accountId: input.accountId,
          ...(restore ? { restore: true } : {}),
          ...(restore && snapshotGrant ? { snapshotGrant } : {}),
          // Nothing acknowledged ever changed the workspace of a zero-loss session with no stored part: it restores empty.
          ...(restore && zeroLoss && !state?.dirty && !state?.checkpoint ? { emptyOk: true } : {}),
          ...(durable ? { durable } : {}),
          ...(command ? { firstCommand: command } : {}),
          ...(input.template ? { template: input.template } : {}),
        });
        return { ...c, ...(generation !== undefined ? { generation } : {}) };
      } catch (err) {
        if (!isHostFull(err) || attempt >= HOST_FULL_ATTEMPTS) throw err;
        await sleep(250 * attempt);
      }
    }
  };

  // Checkpoints, pauses and moves (spec §6). Sessions started before there were checkpoints have none.
  const checkpointMs = input.checkpointMs ?? 0;
  const pauseAfterMs = checkpointMs > 0 ? input.pauseAfterMs ?? 0 : 0;
  /** A pause or a move is under way: steps wait for it (they then run in the session's new container). */
  let moving = false;
  /** When the last checkpoint was tried (this run's time: after continue-as-new the first comes sooner). */
  let lastCheckpointTryMs = 0;
  /** A pause asked for by a call (pauseUpdate), and lease changes that may end it sooner: the main loop wakes on both. */
  let pauseAsked = false;
  let leaseSets = 0;
  /** Steps completed: the main loop wakes on each to reconsider its checkpoint and pause times. */
  let stepsDone = 0;
  /** Uses through the workbench's streams (usedSignal): they wake the main loop too. */
  let streamUses = 0;

  /** A call's own record of whether the session was restored for it. */
  interface CallNote { restored?: RestoreReason; refused?: Refused; kept?: Kept }

  /**
   * Moves the session into a new container on any terminal host, restored from its latest checkpoint; a
   * command aboard runs there in the same step, and its result is answered.
   */
  const move = async (reason: RestoreReason, note: CallNote, aboard?: Aboard): Promise<HostExecResult | undefined> => {
    moving = true;
    try {
      const c = await takeContainer(true, aboard);
      state = afterMove(state!, c, Date.now());
      upsertSearchAttributes([{ key: SA_HOST, value: c.hostId }]);
      showMemo({ container_id: c.containerId, host: c.hostId, paused: false });
      note.restored = reason;
      if (c.restored?.refused_count) note.refused = { names: c.restored.refused ?? [], count: c.restored.refused_count };
      if (chains) note.kept = { zeroLoss, ...(c.restored?.contexts ? { contexts: c.restored.contexts } : {}) };
      return c.first;
    } catch (err) {
      // The container it left is fenced off already: the next step moves the session again, never back there.
      if (chains) state!.homeless = true;
      throw isScheduleTimeout(err) || isHostFull(err)
        ? ApplicationFailure.create({ type: 'no_capacity', message: `no terminal host took session ${input.sessionId} back from its checkpoint in time`, nonRetryable: true })
        : ApplicationFailure.create({ type: 'execution_failed', message: `session ${input.sessionId} could not be restored from its checkpoint: ${causeMessage(err)}`, nonRetryable: true });
    } finally {
      moving = false;
    }
  };

  /** Waits out a pause or move under way, and resumes a paused session, before a step runs. */
  const ensureContainer = async (note: CallNote, aboard?: Aboard): Promise<HostExecResult | undefined> => {
    while (moving || state!.paused || state!.homeless) {
      if (moving) await condition(() => !moving);
      else return move(state!.paused ? 'paused' : 'host_lost', note, aboard);
    }
    return undefined;
  };

  /** The session has a checkpoint to restore: a stored one, or, with zero loss, an empty workspace nothing changed. */
  const restorable = () => state!.checkpoint !== undefined || (zeroLoss && !state!.dirty);

  /**
   * The grant its container's host stores checkpoint parts under: that host, that generation. Signed by
   * an activity of the control worker (once per container and hour): its answer is sealed in the history
   * like every payload, where a local activity's marker would not be.
   */
  const storeGrant = async (): Promise<string> => {
    const s = state!;
    if (!s.storeGrant || s.storeGrant.expiresAtMs - Date.now() < STORE_GRANT_RENEW_MS) {
      const grant = await control.signSnapshotGrant({ accountId: input.accountId, sessionId: input.sessionId, hostId: s.hostId, ttlMs: STORE_GRANT_MS, generation: s.generation ?? 0 });
      s.storeGrant = { grant, expiresAtMs: Date.now() + STORE_GRANT_MS };
    }
    return s.storeGrant.grant;
  };

  /**
   * Schedules a step, with the order to store its effect before it answers when the session is zero-loss.
   * Otherwise the step is scheduled in this very instant (no await first), as runs before chains recorded it.
   */
  const durably = <T>(schedule: (extra: { durable?: Durable }) => Promise<T>): Promise<T> =>
    zeroLoss && state!.generation !== undefined
      ? storeGrant().then((grant) => schedule({ durable: { accountId: input.accountId, sessionId: input.sessionId, grant } }))
      : schedule({});

  /** Moves the session off `queue` unless another step of it has moved it (or is moving it) meanwhile. */
  const moveOff = async (queue: string, reason: RestoreReason, note: CallNote, aboard?: Aboard): Promise<HostExecResult | undefined> => {
    if (moving) {
      await condition(() => !moving);
      return undefined;
    }
    return state!.hostQueue === queue ? move(reason, note, aboard) : undefined;
  };

  /**
   * Runs a step on the session's host. A host that does not pick the step up in time is lost: the session
   * moves to another host from its checkpoint and the step runs there; without a checkpoint it ends as lost.
   * A host lost in the middle of a step: the session moves, but the step is not run again (it may have begun).
   */
  const onHost = async <T>(step: () => Promise<T>, note: CallNote = {}, aboard?: Aboard): Promise<T> => {
    for (let moves = 0, waits = 0; ;) {
      // Only when there is something to wait for: a step otherwise starts in the same instant, as it always did.
      if (moving || state!.paused || state!.homeless) {
        const ran = await ensureContainer(note, aboard);
        if (ran) return ran as T;
      }
      const queue = state!.hostQueue;
      try {
        const r = await step();
        state!.lastUsedMs = Date.now();
        return r;
      } catch (err) {
        const failure = stepFailureOf(err);
        const view = { failure, chains, sameHost: state!.hostQueue === queue, restorable: restorable(), moves, endingOrEnded: ended !== undefined || closing };
        let action = failureAction(view);
        if (action === 'ask_host') {
          // A worker restarting keeps its sessions: wait for it while it may come back; move only once it is gone.
          const verdict = hostVerdict(await grants.hostSilentMs({ hostId: state!.hostId }), input.hostGoneMs!, waits, maxHostWaits);
          if (verdict === 'wait') waits++;
          action = failureAction({ ...view, restorable: restorable(), verdict });
        }
        const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : undefined;
        switch (action) {
          case 'resend':
            continue; // the step never began: it waits on the host's queue again
          case 'fail_keep':
            throw ApplicationFailure.create({
              type: 'execution_failed',
              message: `the worker of the host holding session ${input.sessionId} stopped while this step ran; it is expected back and the session stays there. The step may or may not have finished: check before running it again`,
              nonRetryable: true,
            });
          case 'lost':
            if (failure === 'container_gone') throw ApplicationFailure.create({ type: 'session_lost', message: cause!.message, nonRetryable: true });
            ended = 'session_lost';
            throw ApplicationFailure.create({ type: 'session_lost', message: `the host holding session ${input.sessionId} is gone${state!.checkpoint ? '' : ' and the session has no checkpoint'}`, nonRetryable: true });
          case 'move_then_run': {
            // Another step of this session may have moved it meanwhile: then this one just runs again there.
            const ran = await moveOff(queue, failure === 'container_gone' ? 'container_gone' : 'host_lost', note, aboard);
            if (ran) return ran as T;
            moves++;
            continue;
          }
          case 'move_then_fail':
            await moveOff(queue, 'host_lost', note);
            throw ApplicationFailure.create({
              type: 'execution_failed',
              message: `the host holding session ${input.sessionId} was lost while this step ran; the session was restored on another host from its checkpoint (run the step again)`,
              nonRetryable: true,
            });
          case 'leave_container':
            // This container is no longer the session's (a newer one claimed its chain): the next step moves it.
            state!.homeless = true;
            throw ApplicationFailure.create({ type: 'execution_failed', message: `session ${input.sessionId} had moved on from the container this step ran in; its effect was not kept (run it again)`, nonRetryable: true });
          default:
            if (cause) throw ApplicationFailure.create({ type: cause.type ?? 'execution_failed', message: cause.message, nonRetryable: true });
            throw err;
        }
      }
    }
  };

  /** Saves /workspace to the snapshot store when it changed; answers whether the checkpoint is now current. */
  const checkpoint = async (full = false): Promise<boolean> => {
    lastCheckpointTryMs = Date.now();
    state!.dirty = false;
    try {
      const grant = chains
        ? await storeGrant()
        : patched(HOST_GRANTS)
        ? await grants.signSnapshotGrant({ accountId: input.accountId, sessionId: input.sessionId, hostId: state!.hostId, ttlMs: CHECKPOINT_GRANT_MS })
        : undefined;
      const r = await host().checkpointSession({
        containerId: state!.containerId, accountId: input.accountId, sessionId: input.sessionId, lastDigest: state!.checkpoint?.digest,
        ...(grant ? { grant } : {}), ...(chains ? { chain: true, full } : {}),
      });
      if (r.outcome === 'failed') throw new Error(r.message);
      if (r.outcome === 'saved') state!.checkpoint = chains ? afterStored(state!.checkpoint, r, lastCheckpointTryMs) : { digest: r.digest, raw_bytes: r.raw_bytes, bytes: r.bytes, atMs: lastCheckpointTryMs };
      else if (r.outcome === 'unchanged' && state!.checkpoint) state!.checkpoint.atMs = lastCheckpointTryMs;
      // A workspace over the cap keeps its older checkpoint (a move restores that), is never paused, and is
      // tried again after its next step.
      state!.checkpointStale = r.outcome === 'too_large';
      return !state!.checkpointStale;
    } catch {
      // The host is busy, gone or failing: the next period tries again (a lost host is met by the next step).
      state!.dirty = true;
      return false;
    }
  };

  /** Checkpoints an idle session and removes its container; its next call resumes it on any host. */
  const pause = async () => {
    moving = true;
    try {
      // A chain session stores its first checkpoint, or a long chain, whole: the resume then unpacks one part.
      const full = chains && (!state!.checkpoint || compactionDue(state!.checkpoint));
      if (state!.dirty || !state!.checkpoint || state!.checkpointStale || full) {
        if (!(await checkpoint(full))) {
          // Not now (too large, or the host is failing): idle another period before trying again.
          state!.lastUsedMs = Date.now();
          return;
        }
      }
      // A step arrived meanwhile: it keeps the container.
      if (busy || fileBusy || state!.dirty) return;
      await host().removeSessionContainer({ containerId: state!.containerId }).catch(() => undefined);
      state!.paused = true;
      showMemo({ container_id: null, paused: true });
    } finally {
      moving = false;
    }
  };

  const ready = async () => {
    await condition(() => state !== undefined || ended !== undefined);
    if (startError) throw ApplicationFailure.create({ ...startError, nonRetryable: true });
    if (ended) throw ApplicationFailure.create({ type: ended === 'session_lost' ? 'session_lost' : 'session_not_found', message: `session ${input.sessionId} has ended (${ended})`, nonRetryable: true });
  };

  const rejectIfEnded = () => {
    if (ended || closing) throw ApplicationFailure.create({ type: ended === 'session_lost' ? 'session_lost' : 'session_not_found', message: `session ${input.sessionId} has ended`, nonRetryable: true });
  };

  /** After a step that may have changed /workspace: a checkpoint is due, unless the step stored its effect. */
  const touched = (stored?: CheckpointResult) => {
    if (state) state = afterStep(state, stored, Date.now());
  };

  // Temporal answers a retried Update id (a request_id's hash) within one run; after continue-as-new the
  // next run answers it from the answers carried over, so a command never runs twice for one request_id.
  /** The kept answer of an earlier call of this kind under this key, if any. */
  const knownKey = (kind: KeptAnswer['kind'], key: string | undefined): KeptAnswer | undefined =>
    (key === undefined ? undefined : answered.find((a) => a.key === key && a.kind === kind));

  /**
   * A keyed call that ran in an earlier run: its answer again, or its failure, or (an answer too large to
   * carry) a refusal; never a second run. Undefined when the key is new here, or when replaying a run
   * recorded before this existed (which ran the call again: replay does the same).
   */
  const earlierAnswer = <T>(kind: KeptAnswer['kind'], key: string | undefined): Promise<T> | undefined => {
    const kept = knownKey(kind, key);
    if (!kept || !patched(KEPT_ANSWERS)) return undefined;
    if (!kept.answer) {
      return Promise.reject(ApplicationFailure.create({
        type: 'conflict',
        message: `request_id was already used in session ${input.sessionId}: that call ran, and its answer (${kept.bytes} bytes) was too large to keep for a retry this late; use a new request_id`,
        nonRetryable: true,
      }));
    }
    if ('failure' in kept.answer) return Promise.reject(ApplicationFailure.create({ ...kept.answer.failure, nonRetryable: true }));
    return Promise.resolve(kept.answer.result as T);
  };

  /** Runs a call, keeping its answer (or its failure) under its key, to be carried to the next run. */
  const keeping = <T>(kind: KeptAnswer['kind'], key: string | undefined, call: () => Promise<T>): Promise<T> => {
    // An unkeyed call is the very promise it always was: no step of it moves by a tick.
    if (key === undefined) return call();
    return call().then(
      (result) => {
        answered = keepAnswer(answered, keptAnswer(key, kind, { result }));
        return result;
      },
      (err: unknown) => {
        // A step's own failure (an activity's timeout, say) is kept as what the API would call it.
        const failure = err instanceof ApplicationFailure
          ? { type: err.type ?? 'execution_failed', message: err.message, ...(err.details?.length ? { details: [...err.details] } : {}) }
          : { type: 'execution_failed', message: err instanceof Error ? causeMessage(err) : String(err) };
        answered = keepAnswer(answered, keptAnswer(key, kind, { failure }));
        throw err;
      },
    );
  };

  setHandler(stateQuery, summary);
  setHandler(templateQuery, () => input.template ?? null);
  setHandler(usedSignal, () => {
    if (!state || ended || closing || state.paused) return;
    state = { ...state, lastUsedMs: Date.now(), dirty: true };
    streamUses++;
  });
  setHandler(placementQuery, () => (state && !ended && !closing && !state.paused && !state.homeless ? { hostId: state.hostId, containerId: state.containerId } : null));

  setHandler(execUpdate, (req) => earlierAnswer<TerminalExecOutput>('exec', req.request_hash) ?? keeping('exec', req.request_hash, async () => {
    // Busy before the first await, so the validator of a command arriving meanwhile already sees it.
    busy = true;
    const note: CallNote = {};
    try {
      await ready();
      // The call that starts a session runs its first command; a later create_if_missing only joins it.
      const createdThisCall = !input.carried && state!.commands === 0 && !firstCommandTaken;
      firstCommandTaken = true;
      extendLease(req.lease_ttl_sec);
      const ranWithStart = req.first_id !== undefined && req.first_id === input.firstCommand?.id && firstResult !== undefined;
      const aboard: Aboard = { command: req.command, timeoutMs: req.timeout_ms, streamId: req.stream_id, ...(req.stream_grant ? { streamGrant: req.stream_grant } : {}) };
      const r: Stored<HostExecResult> = ranWithStart ? firstResult! : await onHost(() => durably((extra) => host().sessionExec({ containerId: state!.containerId, ...aboard, ...extra })), note, aboard);
      if (ranWithStart) firstResult = undefined;
      touched(r.checkpoint);
      state!.commands++;
      runCommands++;
      if (r.timed_out) {
        throw ApplicationFailure.create({
          type: 'timeout',
          message: `command exceeded timeout_ms=${req.timeout_ms} and was killed; the session is kept`,
          nonRetryable: true,
          details: [{ stdout: r.stdout, stderr: r.stderr }],
        });
      }
      return {
        session_id: input.sessionId,
        created: req.created && createdThisCall,
        stdout: r.stdout,
        stderr: r.stderr,
        exit_code: r.exit_code,
        stdout_truncated: r.stdout_truncated,
        stderr_truncated: r.stderr_truncated,
        lease_expires_unix_ms: state!.leaseExpiresAtMs,
        ...restoredFields(note.restored, state!.checkpoint?.atMs, note.refused, note.kept),
        ...(ranWithStart ? startedFromNote(startRefused) : {}),
      };
    } finally {
      busy = false;
      stepsDone++;
      extendLease(req.lease_ttl_sec);
    }
  }), {
    // Validators run before anything is written to history: a refused update costs nothing.
    validator: (req: SessionExecRequest) => {
      rejectIfEnded();
      // A retry of a call an earlier run answered is answered again, busy or not (as Temporal answers a known Update).
      if (knownKey('exec', req.request_hash)) return;
      if (busy) throw ApplicationFailure.create({ type: 'session_busy', message: `a command is already running in session ${input.sessionId}`, nonRetryable: true });
      // create_if_missing joining a live session: it must be the template the caller asked for.
      const runsIn = input.template?.name ?? 'terminal';
      if (req.template !== undefined && req.template !== runsIn) {
        throw ApplicationFailure.create({ type: 'invalid_input', message: `template: session ${input.sessionId} already exists and runs in template ${runsIn}`, nonRetryable: true });
      }
      // from_snapshot or fork_from joining a live session: only the one started from that snapshot or session.
      const source = input.restoreAtStart?.source;
      if (req.from_snapshot !== undefined && !(source && 'snapshot' in source && source.snapshot === req.from_snapshot)) {
        throw ApplicationFailure.create({ type: 'invalid_input', message: `from_snapshot: session ${input.sessionId} already exists; a session starts from a snapshot only when the call creates it`, nonRetryable: true });
      }
      if (req.fork_from !== undefined && !(source && 'session' in source && source.session === req.fork_from)) {
        throw ApplicationFailure.create({ type: 'invalid_input', message: `fork_from: session ${input.sessionId} already exists; a session is a fork only when the call creates it`, nonRetryable: true });
      }
    },
  });

  const contextView = (id: string): ContextView => {
    const c = state!.contexts![id];
    return { context_id: id, language: c.language, created_at: new Date(c.createdAtMs).toISOString() };
  };

  /** The context a cell runs in and its language; a named context must exist and speak the language asked for. */
  const contextFor = (req: SessionCodeRequest): { id: string; language: Language; known: boolean } => {
    const known = req.context_id !== undefined ? state?.contexts?.[req.context_id] : undefined;
    if (req.context_id !== undefined && !known) {
      throw ApplicationFailure.create({ type: 'context_not_found', message: `no context ${req.context_id} in session ${input.sessionId}`, nonRetryable: true });
    }
    if (known && req.language !== undefined && req.language !== known.language) {
      throw ApplicationFailure.create({ type: 'invalid_input', message: `language: context ${req.context_id} runs ${known.language}, not ${req.language}`, nonRetryable: true });
    }
    const language = known?.language ?? req.language ?? 'python';
    const id = req.context_id ?? defaultContextId(language);
    return { id, language, known: Boolean(state?.contexts?.[id]) };
  };

  const refuseNewContext = () => {
    if (Object.keys(state?.contexts ?? {}).length >= MAX_CONTEXTS_PER_SESSION) {
      throw ApplicationFailure.create({ type: 'conflict', message: `session ${input.sessionId} already holds ${MAX_CONTEXTS_PER_SESSION} contexts: delete one first`, nonRetryable: true });
    }
  };

  setHandler(contextsQuery, () => Object.keys(state?.contexts ?? {}).map(contextView));

  setHandler(codeUpdate, (req) => earlierAnswer<RunCodeOutput>('code', req.request_hash) ?? keeping('code', req.request_hash, async () => {
    busy = true;
    const note: CallNote = {};
    try {
      await ready();
      const ctx = contextFor(req);
      if (!ctx.known) {
        refuseNewContext();
        (state!.contexts ??= {})[ctx.id] = { language: ctx.language, createdAtMs: Date.now() };
      }
      extendLease();
      const { checkpoint: stored, context_state: loaded, ...r } = await onHost(() => durably((extra) => host().sessionCell({ containerId: state!.containerId, contextId: ctx.id, language: ctx.language, code: req.code, timeoutMs: req.timeout_ms, streamId: req.stream_id, ...(req.stream_grant ? { streamGrant: req.stream_grant } : {}), ...extra })), note);
      touched(stored);
      state!.commands++;
      runCommands++;
      // A restored session's contexts start afresh: the first cell in each says its earlier variables are gone.
      const restarted = state!.contexts![ctx.id]?.restarted === true;
      if (restarted) delete state!.contexts![ctx.id].restarted;
      // A python context that saved its variables loads them back in its new process: not restarted, restored.
      const started = loaded ? { context_restarted: false, context_restored: loaded } : restarted ? { context_restarted: true } : {};
      return { ...r, ...restoredFields(note.restored, state!.checkpoint?.atMs, note.refused, note.kept), ...started, language: ctx.language, session_id: input.sessionId, context_id: ctx.id };
    } finally {
      busy = false;
      stepsDone++;
      extendLease();
    }
  }), {
    validator: (req: SessionCodeRequest) => {
      rejectIfEnded();
      if (knownKey('code', req.request_hash)) return;
      if (busy) throw ApplicationFailure.create({ type: 'session_busy', message: `a command is already running in session ${input.sessionId}`, nonRetryable: true });
      contextFor(req);
    },
  });

  setHandler(createContextUpdate, async ({ language }) => {
    await ready();
    refuseNewContext();
    const id = `ctx_${uuid4().replaceAll('-', '')}`;
    (state!.contexts ??= {})[id] = { language, createdAtMs: Date.now() };
    extendLease();
    return contextView(id);
  }, { validator: (_req: { language: Language }) => { rejectIfEnded(); refuseNewContext(); } });

  setHandler(deleteContextUpdate, async (contextId) => {
    busy = true;
    try {
      await ready();
      delete state!.contexts![contextId];
      extendLease();
      await onHost(() => host().dropContext({ containerId: state!.containerId, contextId }));
    } finally {
      busy = false;
      stepsDone++;
    }
  }, {
    validator: (contextId: string) => {
      rejectIfEnded();
      if (busy) throw ApplicationFailure.create({ type: 'session_busy', message: `a command is already running in session ${input.sessionId}`, nonRetryable: true });
      if (!state?.contexts?.[contextId]) throw ApplicationFailure.create({ type: 'context_not_found', message: `no context ${contextId} in session ${input.sessionId}`, nonRetryable: true });
    },
  });

  // File calls of a session run one at a time (beside its command), so a session holds at most two of
  // its host's slots and the host, sized for that, starts every session's step at once.
  let fileBusy = false;
  setHandler(fileUpdate, async (op) => {
    await ready();
    while (fileBusy) await condition(() => !fileBusy);
    fileBusy = true;
    try {
      extendLease();
      // Every call but the read-only ones may change /workspace (a history's recorded ops keep their old decision).
      const changes = !READ_ONLY_FILE_OPS.includes(op.op);
      const { checkpoint: stored, ...r } = await onHost(() => (changes ? durably((extra) => host().sessionFile({ containerId: state!.containerId, op, ...extra })) : host().sessionFile({ containerId: state!.containerId, op })));
      if (changes) touched(stored);
      return r as FileResult;
    } finally {
      fileBusy = false;
      stepsDone++;
    }
  }, { validator: (_op: FileOp) => rejectIfEnded() });

  setHandler(readyUpdate, async () => {
    await ready();
    return { ...summary(), ...startedFromNote(startRefused) };
  });

  setHandler(pauseUpdate, async () => {
    await ready();
    // A command or file call running now keeps the container: the caller is told so at once (busy), not
    // once the step ends, which may be minutes away, and no pause is left pending behind it.
    if (!state!.paused && !busy && !fileBusy) {
      pauseAsked = true;
      await condition(() => !pauseAsked || ended !== undefined || closing);
    }
    return summary();
  }, {
    validator: () => {
      rejectIfEnded();
      if (checkpointMs === 0) throw ApplicationFailure.create({ type: 'conflict', message: `session ${input.sessionId} cannot pause: checkpoints are off (DURABOX_SESSION_CHECKPOINT_SEC=0)`, nonRetryable: true });
    },
  });

  /** A resume's restore is under way: other resumes wait for it rather than answer busy. */
  let resuming = false;
  setHandler(resumeUpdate, async () => {
    await ready();
    // A restore under way (another resume's, or a step's) is waited for: the session is then live. A command
    // running in a live container already holds one: the caller is told so at once (busy), not once the
    // command ends, which may be minutes away. Checked again after each wait: resumes woken together go one by one.
    while ((moving || resuming) && ended === undefined) await condition(() => (!moving && !resuming) || ended !== undefined);
    rejectIfEnded();
    if (busy) return summary();
    if (state!.paused || state!.homeless) {
      busy = true;
      resuming = true;
      try {
        await ensureContainer({});
      } finally {
        busy = false;
        resuming = false;
        stepsDone++;
      }
    }
    extendLease();
    return summary();
  }, { validator: rejectIfEnded });

  setHandler(leaseUpdate, async ({ ttl_sec }) => {
    await ready();
    const p = input.lease;
    const ttl = Math.min(p.maxSec, Math.max(p.minSec, ttl_sec));
    state!.leaseExpiresAtMs = Math.min(deadlineMs, Date.now() + ttl * 1000);
    showMemo({ lease_expires_unix_ms: state!.leaseExpiresAtMs });
    leaseSets++;
    return summary();
  }, {
    validator: (req: { ttl_sec: number }) => {
      rejectIfEnded();
      // A lease of no number would make the idle loop's wake-up no number either: refused before history.
      if (typeof req?.ttl_sec !== 'number' || !Number.isFinite(req.ttl_sec)) {
        throw ApplicationFailure.create({ type: 'invalid_input', message: 'ttl_sec: expected a number of seconds', nonRetryable: true });
      }
    },
  });

  setHandler(closeUpdate, async () => {
    closing = true;
    await condition(() => ended !== undefined);
    return summary();
  }, { validator: rejectIfEnded });

  if (state) {
    // A continued run starts with an empty memo: say again which container and host this session holds.
    showMemo({ container_id: state.paused ? null : state.containerId, host: state.hostId, lease_expires_unix_ms: state.leaseExpiresAtMs, ...(state.paused ? { paused: true } : {}) });
  } else {
    try {
      // A session from a copied chain (a fork, a named snapshot) is restored from it, its first command aboard.
      const fromChain = input.restoreAtStart;
      const { first: firstRan, restored, ...c } = fromChain
        ? await takeContainer(true, first && { command: first.command, timeoutMs: first.timeoutMs, streamId: first.streamId, streamGrant: first.streamGrant })
        : await takeContainer(false);
      firstResult = firstRan;
      if (restored?.refused_count) startRefused = { names: restored.refused ?? [], count: restored.refused_count };
      // A new session's first checkpoint comes one period after it starts (its workspace is new); one from a
      // copied chain has that chain as its checkpoint already.
      state = {
        ...c, createdAtMs, leaseExpiresAtMs: 0, commands: 0,
        ...(checkpointMs > 0 ? { dirty: !fromChain, lastUsedMs: Date.now() } : {}),
        ...(fromChain?.checkpoint ? { checkpoint: fromChain.checkpoint } : {}),
      };
      lastCheckpointTryMs = Date.now();
      upsertSearchAttributes([{ key: SA_HOST, value: c.hostId }]);
      if (patched(MEMO_CHANGES_ONLY)) {
        extendLease(input.initialLeaseSec, { container_id: c.containerId });
      } else {
        upsertMemo({ container_id: c.containerId });
        extendLease(input.initialLeaseSec);
      }
    } catch (err) {
      startError = isScheduleTimeout(err)
        ? { type: 'no_capacity', message: 'no terminal worker took the session in time' }
        : isHostFull(err)
        ? { type: 'no_capacity', message: `no terminal host had room for another session (each holds its most, DURABOX_HOST_MAX_SESSIONS; tried ${HOST_FULL_ATTEMPTS} times)` }
        : { type: 'execution_failed', message: `session could not start: ${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message}` };
      ended = 'start_failed';
      upsertSearchAttributes([{ key: SA_ERROR, value: 'start_failed' }]);
      // The chain copied for it (a fork, a snapshot) goes with the session that never started.
      if (input.restoreAtStart) await dropChain();
      await condition(allHandlersFinished);
      return summary();
    }
  }

  // Live until closed, lost, or the lease runs out; never end while a command runs.
  const continueSuggested = () => runCommands >= input.commandsPerRun || workflowInfo().continueAsNewSuggested;
  for (;;) {
    if (closing || ended) break;
    if (busy || moving) {
      await condition(() => (!busy && !moving) || closing || ended !== undefined);
      continue;
    }
    const plan = idlePlan({
      nowMs: Date.now(), createdAtMs, deadlineMs, state, checkpointMs, pauseAfterMs, chains, lastCheckpointTryMs,
    });
    if (plan.expired) break;
    const seen = stepsDone;
    const seenUses = streamUses;
    const seenLeases = leaseSets;
    // pauseAsked and leaseSets only ever change through their updates: histories from before them replay alike.
    await condition(() => closing || ended !== undefined || busy || continueSuggested() || pauseAsked || leaseSets !== seenLeases || (checkpointMs > 0 && (stepsDone !== seen || streamUses !== seenUses)), Math.max(1, plan.wakeAt - Date.now()));
    const idle = !closing && !ended && !busy && !fileBusy && !moving && !state.paused;
    if (pauseAsked) {
      // Asked for: paused now, or (a step arrived meanwhile, or already paused) the caller is told as it is.
      // Before a continue-as-new, which would wait forever for this update's handler.
      if (idle) await pause();
      pauseAsked = false;
      continue;
    }
    if (leaseSets !== seenLeases) continue;
    if (!closing && !ended && !busy && continueSuggested()) {
      // Running handlers finish first; a close arriving meanwhile ends the session here instead (it
      // waits for the end, so waiting for it to finish would wait forever). Before any checkpoint or
      // pause: a call arriving meanwhile would land in this run, and its retry (same request_id) in the
      // next, where Temporal no longer knows the update. The next run takes the checkpoint.
      // A pause asked for meanwhile is done first (its handler waits for this loop).
      await condition(() => allHandlersFinished() || closing || pauseAsked);
      if (pauseAsked) continue;
      if (!closing) return continueAsNew<typeof sessionWorkflow>({ ...input, firstCommand: undefined, carried: state, answered: answered.length > 0 ? answered : undefined });
      continue;
    }
    const due = dueAction(plan, Date.now(), idle);
    if (due === 'pause') await pause();
    else if (due === 'checkpoint') await checkpoint();
    else if (due === 'compact') await checkpoint(true);
  }

  if (!ended) ended = closing ? 'closed' : Date.now() >= deadlineMs ? 'max_lifetime' : 'lease_expired';
  // A move under way finishes first: its container is then the one to remove.
  await condition(() => !moving);
  if (ended === 'session_lost') {
    upsertSearchAttributes([{ key: SA_ERROR, value: 'session_lost' }]);
  } else if (!state.paused) {
    await host().removeSessionContainer({ containerId: state.containerId }).catch(() => {
      // The host vanished before the cleanup; its worker removes the container when it starts again.
      ended = 'session_lost';
      upsertSearchAttributes([{ key: SA_ERROR, value: 'session_lost' }]);
    });
  }
  if (checkpointMs > 0) await dropChain();
  await condition(allHandlersFinished);
  return summary();
}

/** Drops the session's checkpoint chain (the control worker, in the API process, reaches the store). */
async function dropChainOf(accountId: string, sessionId: string): Promise<void> {
  await proxyActivities<ControlActivities>({ taskQueue: CONTROL_TASK_QUEUE, startToCloseTimeout: '1m', retry: { maximumAttempts: 10 } })
    .dropSessionSnapshot({ accountId, sessionId })
    .catch(() => undefined);
}

function causeMessage(err: unknown): string {
  return ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
}

function isScheduleTimeout(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START';
}

function isHostFull(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'host_full';
}

/** How a step on the session's host failed, in the machine's terms. */
function stepFailureOf(err: unknown): StepFailure {
  if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
    if (err.cause.timeoutType === 'SCHEDULE_TO_START') return 'not_picked_up';
    if (err.cause.timeoutType === 'HEARTBEAT') return 'lost_mid_step';
  }
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    if (err.cause.type === 'container_gone') return 'container_gone';
    if (err.cause.type === 'fenced') return 'fenced';
  }
  return 'other';
}

/** No poll on the host's queue in time, or the host stopped heartbeating mid-step. */
function isHostLost(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure
    && (err.cause.timeoutType === 'SCHEDULE_TO_START' || err.cause.timeoutType === 'HEARTBEAT');
}
