// The frames between a worker and PID 1 of a container, by program: every request the worker sends and
// every answer it reads back. frame-channel.ts carries them on the host; sandbox/inside/frames.py reads
// and writes them in the container, where the keeper (inside/sandbox-keeper.py), the session agent
// (inside/session-agent.py) and the egress proxy (inside/egress-proxy.py) answer them.
//
// What comes back is named as an honest program writes it, but a container may be hostile and put
// anything in any field: an answer is `Received<…>`, every field `unknown` until its reader checks it
// (cellResultOf, restoreAnswerOf, SessionContainers.delta).
import type { EgressPolicy } from '../config/index.js';
import type { Language } from '../contract/messages.js';

/** A frame as it came from a container: an honest program's field names, values not yet checked. */
export type Received<T> = { readonly [K in keyof T]?: unknown };

/** Any frame a container sent (the channel only knows it is a JSON object). */
export type AnyFrame = Readonly<Record<string, unknown>>;

// --- from every program -------------------------------------------------------------------------

/**
 * The first frame of each program once it has started; the keeper's again after each reset (false: the
 * reset failed, the container is replaced).
 */
export interface ReadyFrame { ready: boolean }

/** A piece of output as the program writes it, forwarded while the work runs. */
export interface OutputChunk { stream: 'stdout' | 'stderr'; text: string }

/** Output of a request sent with `stream`, before its answer (with the request's id, for the agent). */
export interface ChunkFrame { id?: string; chunk: OutputChunk }

// --- the python keeper: one request at a time, no ids ------------------------------------------

/** A python program, run as a fresh child. */
export interface KeeperCodeRequest { code: string; limit: number; stream: boolean }

/** A code-interpreter cell, in a kernel started for it alone. */
export interface KeeperCellRequest { cell: { language: Language; code: string; timeout_ms: number }; limit: number; stream: boolean }

export type KeeperRequest = KeeperCodeRequest | KeeperCellRequest;

/** A program's or a command's answer (the agent adds `timed_out`: it enforces the timeout itself). */
export interface RunAnswer {
  exit_code: number;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  timed_out?: boolean;
}

/** A cell's answer: the cell result in the wire's shape (cells.ts), or none with why. */
export interface CellAnswer { cell_result: unknown; error?: 'unknown_language' | 'context_language_mismatch' }

/** The keeper's answer to either request, as read: the fields of both, none checked. */
export type KeeperAnswer = Received<RunAnswer & CellAnswer>;

// --- the session agent: requests carry an id its answer repeats ---------------------------------

export interface AgentCommandRequest { command: string; timeout_ms: number; limit: number; stream: boolean }
export interface AgentCellRequest { cell: { language: Language; code: string; context_id: string; timeout_ms: number }; limit: number; stream: boolean }
/** Ends a context's kernel: answered {dropped}. */
export interface AgentDropContextRequest { drop_context: string }
/** A checkpoint's tar (base64) to unpack into the fresh workspace: answered as restoreAnswerOf reads it. */
export interface AgentRestoreRequest { restore: string }
/** What changed since the last committed checkpoint (`delta`), or only a note of the workspace (`walk`). */
export interface AgentDeltaRequest { delta: { mode: 'delta' | 'walk'; max_bytes: number; contexts?: true } }

export type AgentRequest = AgentCommandRequest | AgentCellRequest | AgentDropContextRequest | AgentRestoreRequest | AgentDeltaRequest;

/**
 * Frames the agent answers with nothing: `adopt` (a session owns the container: it stays when the worker
 * goes), `ping` (a warm container's worker is alive) and `delta_commit` (that delta's token is stored).
 */
export type AgentNotice = { adopt: true } | { ping: true } | { delta_commit: number };

/** The restore's answer (workspace-restore.py), or its failure. */
export interface RestoreFrame { restored: boolean; refused: string[]; refused_count: number; error?: string; message?: string }

/** What each interpreter context of a workspace had saved: its variables, and those it could not. */
export type SavedContexts = Record<string, { saved: string[]; unsaved: string[] }>;

/** The answer to a delta request: one of unchanged, too large, walked, a delta; or its failure. */
export interface DeltaAnswer {
  unchanged?: true;
  token?: number;
  too_large?: true;
  /** The tar of what changed, base64. */
  delta?: string;
  changed?: number;
  deleted?: number;
  raw_bytes?: number;
  /** With `contexts`: each interpreter context's saved and unsaved variables. */
  contexts?: SavedContexts;
  error?: string;
  message?: string;
}

// --- the egress proxy: requests carry an id its answer repeats ----------------------------------

/** Listen on `listen` (a network's proxy address) with that network's policy; or stop listening there. */
export type ProxyRequest = { listen: string; allow: EgressPolicy } | { drop: string };

export interface ProxyAnswer { ok?: true; error?: string }

/** Every frame a worker writes to a container. */
export type HostFrame = KeeperRequest | (AgentRequest & { id: string }) | AgentNotice | (ProxyRequest & { id: string });
