// A terminal session as a state machine (spec §6, docs/sessions/durability.md): its phases, and every
// decision its workflow takes, as pure functions of its state and the clock. workflows/session.ts is the
// Temporal shell around it: it keeps the state between awaits, runs the activities these decisions name,
// and feeds their outcomes back. Nothing here imports Temporal: it is unit-tested on its own
// (test/unit/session-machine.test.ts), and a decision changed here cannot reorder a workflow's commands.
//
// Phases (a session is in exactly one):
//   starting  no container yet: the start step (with the creating command) is under way
//   active    a container on a host, no step running
//   busy      a command or cell runs in it (file calls run beside, one at a time)
//   moving    a new container is being made from the checkpoint chain (a resume, or a lost host's move)
//   homeless  the host is gone and no new container took the session yet: the next step moves it
//   paused    idle long enough: checkpointed, its container removed; the next step resumes it anywhere
//   closing   a close arrived: running steps finish, then the container and the chain go
//   ended     closed, lease expired, lifetime over, start failed or lost
import type { CheckpointRecord, CheckpointResult, KeptAnswer, Language, SessionState } from '../contract/messages.js';

export type Phase = 'starting' | 'active' | 'busy' | 'moving' | 'homeless' | 'paused' | 'closing' | 'ended';

/** Where each phase can go next: what the shell's flags may do between two observations. */
export const TRANSITIONS: Readonly<Record<Phase, readonly Phase[]>> = {
  starting: ['busy', 'active', 'ended', 'closing'],
  active: ['busy', 'moving', 'paused', 'closing', 'ended'],
  busy: ['active', 'moving', 'homeless', 'closing', 'ended'],
  moving: ['active', 'busy', 'homeless', 'paused', 'closing', 'ended'],
  homeless: ['moving', 'busy', 'closing', 'ended'],
  paused: ['moving', 'busy', 'closing', 'ended'],
  closing: ['ended'],
  ended: [],
};

/** What the shell holds between awaits, from which the phase follows. */
export interface Flags {
  state: Pick<SessionState, 'paused' | 'homeless'> | undefined;
  ended: boolean;
  closing: boolean;
  busy: boolean;
  moving: boolean;
}

/** The phase the flags say: the most specific thing under way (a step running shows as busy even while it moves the session). */
export function phaseOf(f: Flags): Phase {
  if (f.ended) return 'ended';
  if (!f.state) return 'starting';
  if (f.busy) return 'busy';
  if (f.moving) return 'moving';
  if (f.state.homeless) return 'homeless';
  if (f.state.paused) return 'paused';
  return f.closing ? 'closing' : 'active';
}

/** The status a session's summary shows for a phase (the API's vocabulary). */
export function statusOf(phase: Phase): 'starting' | 'active' | 'busy' | 'paused' | 'ended' {
  switch (phase) {
    case 'starting': return 'starting';
    case 'busy': return 'busy';
    case 'paused': return 'paused';
    case 'ended': return 'ended';
    default: return 'active';
  }
}

// ---- the idle loop --------------------------------------------------------------------------------

/** The session between steps, as the idle loop sees it. */
export interface IdleView {
  nowMs: number;
  createdAtMs: number;
  deadlineMs: number;
  state: Pick<SessionState, 'leaseExpiresAtMs' | 'paused' | 'dirty' | 'lastUsedMs' | 'checkpoint'>;
  checkpointMs: number;
  pauseAfterMs: number;
  /** A session of checkpoint chains (compacted while idle). */
  chains: boolean;
  lastCheckpointTryMs: number;
}

/** When each idle action falls due (Infinity: never), and when the loop wakes at the latest. */
export interface IdlePlan { expired: boolean; checkpointAt: number; pauseAt: number; compactAt: number; wakeAt: number }

/** Checkpoint when the workspace may have changed, at most once a period; pause when idle long enough; compact a long chain. */
export function idlePlan(v: IdleView): IdlePlan {
  const expiry = Math.min(v.state.leaseExpiresAtMs, v.deadlineMs);
  const live = !v.state.paused;
  const checkpointAt = v.checkpointMs > 0 && live && v.state.dirty ? v.lastCheckpointTryMs + v.checkpointMs : Infinity;
  const pauseAt = v.pauseAfterMs > 0 && live ? (v.state.lastUsedMs ?? v.createdAtMs) + v.pauseAfterMs : Infinity;
  // A long chain of deltas becomes one full checkpoint once the session has idled a checkpoint period.
  const compactAt = v.chains && v.checkpointMs > 0 && live && !v.state.dirty && compactionDue(v.state.checkpoint)
    ? Math.max(v.state.lastUsedMs ?? v.createdAtMs, v.lastCheckpointTryMs) + v.checkpointMs
    : Infinity;
  return { expired: v.nowMs >= expiry, checkpointAt, pauseAt, compactAt, wakeAt: Math.min(expiry, checkpointAt, pauseAt, compactAt) };
}

/** What an idle session does once awake: the first action due, pause before checkpoint before compaction. */
export function dueAction(plan: IdlePlan, nowMs: number, idle: boolean): 'pause' | 'checkpoint' | 'compact' | 'none' {
  if (!idle) return 'none';
  if (nowMs >= plan.pauseAt) return 'pause';
  if (nowMs >= plan.checkpointAt) return 'checkpoint';
  return nowMs >= plan.compactAt ? 'compact' : 'none';
}

// ---- a step that failed on its host --------------------------------------------------------------

/** How a step on the session's host failed, as the shell reads the activity's failure. */
export type StepFailure = 'not_picked_up' | 'lost_mid_step' | 'container_gone' | 'fenced' | 'other';

export interface FailureView {
  failure: StepFailure;
  chains: boolean;
  /** The session is still on the host this step was sent to (another step did not move it meanwhile). */
  sameHost: boolean;
  /** The session has a checkpoint chain to restore from. */
  restorable: boolean;
  /** Moves this one step has caused already (a step moves a session at most once). */
  moves: number;
  endingOrEnded: boolean;
  /** For a chain session's silent host: whether it may come back (asked once the shell knows). */
  verdict?: 'wait' | 'gone';
}

export type FailureAction =
  /** Ask when the host last reported, then decide again with the verdict. */
  | 'ask_host'
  /** Send the step to the same host again: it never began, and the host is expected back. */
  | 'resend'
  /** The host's worker stopped mid-step and is expected back: the step fails, the session stays. */
  | 'fail_keep'
  /** Move the session (from its chain) and run the step there. */
  | 'move_then_run'
  /** Move the session; the step may have begun, so it is not run again: it fails. */
  | 'move_then_fail'
  /** The container is not the session's any more: the next step moves the session. */
  | 'leave_container'
  /** No checkpoint to move from, or a second loss in one step: the session is lost. */
  | 'lost'
  /** The step's own failure, answered as it is. */
  | 'rethrow';

export function failureAction(v: FailureView): FailureAction {
  const hostLost = v.failure === 'not_picked_up' || v.failure === 'lost_mid_step';
  if (hostLost && v.chains && v.sameHost && v.verdict === undefined) return 'ask_host';
  if (hostLost && v.verdict === 'wait' && v.sameHost) return v.failure === 'not_picked_up' ? 'resend' : 'fail_keep';
  if (hostLost) {
    if (!v.restorable || v.moves >= 1) return 'lost';
    return v.failure === 'not_picked_up' ? 'move_then_run' : 'move_then_fail';
  }
  if (v.failure === 'container_gone') return v.restorable && v.moves < 1 && !v.endingOrEnded ? 'move_then_run' : 'lost';
  if (v.failure === 'fenced') return 'leave_container';
  return 'rethrow';
}

/**
 * What a step its host did not pick up in time (or lost mid-step) should do: wait for the host (it
 * reported recently: a worker restart), or move the session (the host is gone). `silentMs` is how long
 * ago the host last reported (null: never, or deleted); `waits` how many times this step waited already.
 */
export function hostVerdict(silentMs: number | null, goneMs: number, waits: number, maxWaits: number): 'wait' | 'gone' {
  return silentMs !== null && silentMs < goneMs && waits < maxWaits ? 'wait' : 'gone';
}

// ---- checkpoint chains ---------------------------------------------------------------------------

/** A chain of this many deltas, or of more delta bytes than its base (and this floor), is compacted when idle. */
export const COMPACT_DELTAS = 32;
export const COMPACT_DELTA_BYTES = 1024 * 1024;

/** Whether a chain of this shape is due to be compacted into one full checkpoint. */
export function compactionDue(c: { bytes: number; deltas?: number; deltaBytes?: number } | undefined): boolean {
  if (!c?.deltas) return false;
  const deltaBytes = c.deltaBytes ?? 0;
  return c.deltas >= COMPACT_DELTAS || (deltaBytes > COMPACT_DELTA_BYTES && deltaBytes > c.bytes - deltaBytes);
}

/** The checkpoint record after a stored part: a full part starts the chain again, a delta lengthens it. */
export function afterStored(prev: CheckpointRecord | undefined, r: Extract<CheckpointResult, { outcome: 'saved' }>, atMs: number): CheckpointRecord {
  if (r.kind !== 'delta' || !prev) {
    return r.kind === 'delta'
      ? { digest: r.digest, raw_bytes: r.raw_bytes, bytes: r.bytes, atMs, deltas: 1, deltaBytes: r.bytes }
      : { digest: r.digest, raw_bytes: r.raw_bytes, bytes: r.bytes, atMs };
  }
  return {
    digest: r.digest,
    raw_bytes: prev.raw_bytes + r.raw_bytes,
    bytes: prev.bytes + r.bytes,
    atMs,
    deltas: (prev.deltas ?? 0) + 1,
    deltaBytes: (prev.deltaBytes ?? 0) + r.bytes,
  };
}

/**
 * The session after a step that may have changed /workspace reported what storing its effect did: a
 * stored (or unchanged) effect leaves nothing to checkpoint; anything else makes a checkpoint due.
 */
export function afterStep(s: SessionState, stored: CheckpointResult | undefined, atMs: number): SessionState {
  if (!stored) return { ...s, dirty: true };
  const next = { ...s };
  if (stored.outcome === 'saved') {
    next.checkpoint = afterStored(s.checkpoint, stored, atMs);
    next.checkpointStale = false;
  }
  if (stored.outcome === 'too_large') next.checkpointStale = true;
  next.dirty = !(stored.outcome === 'saved' || stored.outcome === 'unchanged');
  return next;
}

/** A new container took the session (a move or a resume): its host, and for chain sessions its generation. */
export function afterMove(s: SessionState, c: { hostQueue: string; hostId: string; containerId: string; generation?: number }, atMs: number): SessionState {
  const next: SessionState = { ...s, hostQueue: c.hostQueue, hostId: c.hostId, containerId: c.containerId, paused: false, dirty: false, lastUsedMs: atMs };
  // Its contexts' processes went with the old container: each says so (or loads what it saved) at its next cell.
  if (s.contexts) next.contexts = Object.fromEntries(Object.entries(s.contexts).map(([id, ctx]) => [id, { ...ctx, restarted: true }]));
  if (c.generation !== undefined) {
    next.generation = c.generation;
    next.claimed = c.generation;
    delete next.storeGrant;
    delete next.homeless;
  }
  return next;
}

/** The generation the next container of a chain session gets: one past any handed out. */
export function nextGeneration(s: Pick<SessionState, 'generation' | 'claimed'> | undefined): number {
  return (s?.claimed ?? s?.generation ?? 0) + 1;
}

// ---- what a restored call says ------------------------------------------------------------------

export type RestoreReason = 'paused' | 'host_lost' | 'container_gone';

/** Members of a checkpoint its restore left out (links out of /workspace, special files...): the first few named. */
export interface Refused { names: string[]; count: number }

/**
 * What a chain session's restore kept: whether every answered step was stored (zero loss), and the
 * interpreter contexts whose variables the workspace holds.
 */
export interface Kept { zeroLoss: boolean; contexts?: Record<string, { saved: string[]; unsaved: string[] }> }

/** The part of a call's answer that says the session was restored for it, and what did not come back. */
export function restoredFields(reason: RestoreReason | undefined, checkpointAtMs: number | undefined, refused?: Refused, kept?: Kept): { restored?: true; restored_note?: string } {
  if (!reason) return {};
  const at = checkpointAtMs !== undefined ? new Date(checkpointAtMs).toISOString() : 'its last checkpoint';
  return {
    restored: true,
    restored_note: (kept ? whyRestoredFromChain(reason, at, kept) : whyRestored(reason, at)) + (refused ? refusedNote(refused) : ''),
  };
}

function whyRestoredFromChain(reason: RestoreReason, at: string, kept: Kept): string {
  const workspace = reason === 'paused' ? '/workspace is as it was' : kept.zeroLoss ? '/workspace holds every step that was answered' : `/workspace is as of ${at}`;
  const why = reason === 'paused'
    ? 'the session was paused and resumed from its checkpoint'
    : reason === 'container_gone'
    ? 'the session\'s container was gone (removed, or its Docker daemon restarted); it was restored from its checkpoint'
    : 'the session\'s host was lost; it was restored on another host from its checkpoint';
  return `${why}: ${workspace}; running processes were not kept; ${contextsNote(kept.contexts)}`;
}

/** Which interpreter contexts come back with their variables, and what each could not save. */
function contextsNote(contexts: Kept['contexts']): string {
  const saved = Object.entries(contexts ?? {});
  if (saved.length === 0) return 'interpreter variables were not kept (none were saved)';
  const each = saved.map(([id, c]) => `${id}: ${c.saved.join(', ') || 'no variables'}${c.unsaved.length > 0 ? ` (not saved: ${c.unsaved.join(', ')})` : ''}`);
  return `python contexts come back with their saved variables at their next cell: ${each.join('; ')}; other contexts start afresh`;
}

/** What the restore of a session started from a copied chain (a fork, a snapshot) left out of it. */
export function startedFromNote(r: Refused | undefined): { restored_note?: string } {
  return r ? { restored_note: `the session started from a copy of another session's checkpoint${refusedNote(r)}` } : {};
}

function refusedNote(r: Refused): string {
  const more = r.count > r.names.length ? `; and ${r.count - r.names.length} more` : '';
  return `. ${r.count} entries of the checkpoint were refused and not restored: ${r.names.join('; ')}${more}`;
}

/** The note of a session from before chains (its runs replay with these words). */
function whyRestored(reason: RestoreReason, at: string): string {
  return reason === 'paused'
    ? `the session was paused and resumed from its checkpoint of ${at}: /workspace is as it was; running processes and interpreter variables were not kept`
    : reason === 'container_gone'
    ? `the session's container was gone (removed, or its Docker daemon restarted); it was restored from its checkpoint of ${at}: /workspace is as of then; running processes and interpreter variables were lost`
    : `the session's host was lost; it was restored on another host from its checkpoint of ${at}: /workspace is as of then; running processes and interpreter variables were lost`;
}

/** The context a cell without context_id runs in: one per language, made on first use. */
export const defaultContextId = (language: Language): string => `default-${language}`;

// ---- keyed calls across runs ----------------------------------------------------------------------

/**
 * How many keyed calls (a request_id) a session remembers past continue-as-new, and how many bytes of their
 * answers it carries: the next run's input is one Temporal payload (2 MB at most, a warning from 512 KB), and
 * the session's state travels in it too. An answer that does not fit is remembered by its key alone.
 */
export const KEPT_ANSWERS = 64;
export const KEPT_ANSWER_BYTES = 256 * 1024;

/** A keyed call's answer, ready to keep: its size is that of its JSON in UTF-8, as it travels. */
export function keptAnswer(key: string, kind: KeptAnswer['kind'], answer: NonNullable<KeptAnswer['answer']>): KeptAnswer {
  return { key, kind, answer, bytes: utf8Bytes(JSON.stringify(answer)) };
}

/**
 * The session's kept answers with `next` added: the latest KEPT_ANSWERS keys, and the answers of the newest
 * of them whole as long as together they fit KEPT_ANSWER_BYTES (a retry is likeliest soon after its call);
 * older or larger ones keep only their key, so their retry is refused rather than run again.
 */
export function keepAnswer(kept: readonly KeptAnswer[], next: KeptAnswer, limits = { count: KEPT_ANSWERS, bytes: KEPT_ANSWER_BYTES }): KeptAnswer[] {
  const latest = [...kept.filter((k) => k.key !== next.key), next].slice(-limits.count);
  let room = limits.bytes;
  const fitted = latest.reverse().map((k): KeptAnswer => {
    if (!k.answer) return k;
    if (k.bytes <= room) {
      room -= k.bytes;
      return k;
    }
    return { key: k.key, kind: k.kind, bytes: k.bytes };
  });
  return fitted.reverse();
}

/** Bytes of a string in UTF-8 (the workflow sandbox has no Buffer). */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
