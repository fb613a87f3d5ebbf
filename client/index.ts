// durabox's typed REST client, made from the operation records (contract/operations.ts): one method per
// record, its input typed from the record's zod request schemas (path parameters, query, JSON or raw
// body) and its answer from the record's 2xx response schemas. It needs nothing but `fetch`, and imports
// the records' types only, so a browser bundle carries the route table (client/routes.ts) and this file.
import type { z } from 'zod';
import type { OPERATIONS, OperationId } from '../contract/operations.js';
import { ROUTES, type BodyKind } from './routes.js';

export type { OperationId } from '../contract/operations.js';
export { ROUTES } from './routes.js';

type Ops = typeof OPERATIONS;

// ---- inputs -------------------------------------------------------------------------------------------

type ParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}` ? N | ParamNames<Rest> : never;
/** The path's `{…}` parameters, given as strings (the client encodes them). */
type PathParams<P extends string> = [ParamNames<P>] extends [never] ? unknown : { [N in ParamNames<P>]: string };
/** A part the caller may leave out when its schema takes undefined or every field of it is optional. */
type Optional<T, Key extends string> = undefined extends T ? { [k in Key]?: T } : {} extends T ? { [k in Key]?: T } : { [k in Key]: T };
type QueryPart<O> = O extends { query: infer Q extends z.ZodType } ? Optional<z.input<Q>, 'query'> : unknown;

/**
 * An upload's bytes: anything `fetch` sends (a Uint8Array or Buffer, Blob, string, web stream), or an async iterable
 * of chunks (a Node stream), sent as it is read.
 */
export type RawBody = BodyInit | Uint8Array | AsyncIterable<Uint8Array>;
type BodyPart<O> = O extends { rawBody: true }
  ? { body: RawBody; contentType?: string }
  : O extends { body: infer B extends z.ZodType } ? Optional<z.input<B>, 'body'> : unknown;

/** What a call takes: its path parameters by name, `query`, and `body` (JSON, or raw bytes for an upload). */
export type Input<K extends OperationId> = PathParams<Ops[K]['path']> & QueryPart<Ops[K]> & BodyPart<Ops[K]>;

// ---- answers ------------------------------------------------------------------------------------------

type SuccessCode = 200 | 201 | 202 | 203 | 204 | 206;
type Answer<R> = R extends { schema: infer S extends z.ZodType } ? z.output<S> | (R extends { contentType: string } ? Response : never)
  : R extends { contentType: string } ? Response
  : undefined;
/**
 * What a call answers: the JSON of its 2xx answers, undefined for an empty one (204), and the unread
 * `Response` for a body that is not JSON (a PNG, metrics text) or is a download (a session's file).
 */
export type Output<K extends OperationId> = { [C in keyof Ops[K]['responses']]: C extends SuccessCode ? Answer<Ops[K]['responses'][C]> : never }[keyof Ops[K]['responses']];

/** The items of a paged or listed answer (`{items: [...]}`). */
export type Item<K extends OperationId> = Output<K> extends { items: Array<infer T> } ? T : never;

// ---- the client ---------------------------------------------------------------------------------------

/** The `fetch` the client calls; a runtime's own (a Node agent with a CA, a test's recorder) may stand in. */
export type Fetch = (url: string, init: RequestInit & { duplex?: 'half' }) => Promise<Response>;

export interface ClientOptions {
  /** Where the API is, e.g. `https://durabox.example.com`; empty: the page's own origin (a browser). */
  baseUrl?: string;
  /** An access token, for `token` operations (`Authorization: Bearer …`). */
  token?: string;
  /** A runtime worker's credential, for `worker` operations (the registry). */
  worker?: { id: string; secret: string };
  /** The login cookie (`durabox_session=…`), for `login` and `admin` operations outside a browser. */
  cookie?: string;
  /** In a browser, whether `fetch` sends the page's cookies: `same-origin` for `login` and `admin` operations. */
  credentials?: RequestCredentials;
  /** Gives up a call after this long (none: no limit of the client's own). */
  timeoutMs?: number;
  /** Headers every call sends. */
  headers?: Record<string, string>;
  fetch?: Fetch;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Headers of this call (e.g. `accept: text/event-stream` with `send`). */
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** A call answered something other than 2xx: its status, the body's `error` (and session errors' `code`). */
export class DuraboxApiError extends Error {
  override readonly name = 'DuraboxApiError';
  /** The general phrase (`{error}`), e.g. `session not found`. */
  readonly error: string;
  /** The machine-readable code of session and quota errors, e.g. `session_not_found`. */
  readonly code: string | undefined;

  constructor(readonly operation: OperationId, readonly status: number, readonly body: unknown) {
    const b = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; code?: unknown; message?: unknown };
    const error = typeof b.error === 'string' ? b.error : typeof body === 'string' && body ? body.slice(0, 200) : `answered ${status}`;
    const code = typeof b.code === 'string' ? b.code : undefined;
    // A session error says what happened in this call in `message`; `error` is the general phrase.
    super(code && typeof b.message === 'string' ? b.message : error);
    this.error = error;
    this.code = code;
  }
}

type Method<K extends OperationId> = {} extends Input<K>
  ? (input?: Input<K>, options?: CallOptions) => Promise<Output<K>>
  : (input: Input<K>, options?: CallOptions) => Promise<Output<K>>;

/** One method per operation record, named by its id: `client.getSession({ id })`. */
export type Methods = { [K in OperationId]: Method<K> };

// A class and an interface of one name: the methods are made from ROUTES in the constructor, and their
// types come from the records.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface DuraboxClient extends Methods {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class DuraboxClient {
  constructor(readonly options: ClientOptions = {}) {
    for (const id of Object.keys(ROUTES) as OperationId[]) {
      Object.defineProperty(this, id, { value: (input?: object, opts?: CallOptions) => this.call(id, input as never, opts), enumerable: false });
    }
  }

  /** Calls an operation; answers its 2xx body (see Output), throws DuraboxApiError for any other status. */
  async call<K extends OperationId>(id: K, input: Input<K>, options: CallOptions = {}): Promise<Output<K>> {
    const res = await this.send(id, input, options);
    const type = res.headers.get('content-type') ?? '';
    const json = /\bjson\b/i.test(type);
    if (res.status < 200 || res.status >= 300) throw new DuraboxApiError(id, res.status, await readBody(res, json));
    if (res.status === 204 || res.status === 205) return undefined as Output<K>;
    // A download (a session's file) is bytes even when they are JSON: it is not the record's listing.
    if (!json || /^\s*attachment/i.test(res.headers.get('content-disposition') ?? '')) return res as Output<K>;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as Output<K>;
  }

  /**
   * Sends an operation and answers the `Response` as it is, whatever its status: for answers read as they
   * come (Server-Sent Events, a large download) or whose headers matter.
   */
  send<K extends OperationId>(id: K, input: Input<K>, options: CallOptions = {}): Promise<Response> {
    const [method, , auth, kind] = ROUTES[id] as readonly [string, string, string, BodyKind?];
    const given = (input ?? {}) as { query?: Record<string, unknown>; body?: unknown; contentType?: string };
    const headers: Record<string, string> = { ...this.options.headers, ...authHeaders(auth, this.options), ...options.headers };
    const init: RequestInit & { duplex?: 'half' } = { method: method.toUpperCase(), headers };
    if (this.options.credentials) init.credentials = this.options.credentials;
    if (kind === 'json') {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(given.body ?? {});
    } else if (kind === 'raw') {
      headers['content-type'] = given.contentType ?? 'application/octet-stream';
      init.body = given.body as BodyInit;
      // A stream goes as it is read (Node's fetch wants to be told).
      if (isStream(given.body)) init.duplex = 'half';
    }
    const signal = signalOf(options, this.options.timeoutMs);
    if (signal) init.signal = signal;
    return (this.options.fetch ?? fetch)(this.url(id, input), init);
  }

  /** The operation's URL: the path with its parameters filled in, and the query. */
  url<K extends OperationId>(id: K, input: Input<K>): string {
    const given = (input ?? {}) as Record<string, unknown> & { query?: Record<string, unknown> };
    const path = ROUTES[id][1].replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = given[name];
      if (typeof value !== 'string' || value === '') throw new TypeError(`${id}: the path parameter ${name} is missing`);
      return encodeURIComponent(value);
    });
    const query = queryString(given.query);
    return `${(this.options.baseUrl ?? '').replace(/\/+$/, '')}${path}${query ? `?${query}` : ''}`;
  }
}

function authHeaders(auth: string, o: ClientOptions): Record<string, string> {
  if (auth === 'token' && o.token) return { authorization: `Bearer ${o.token}` };
  if (auth === 'worker' && o.worker) return { authorization: `Bearer ${o.worker.id}:${o.worker.secret}` };
  if ((auth === 'login' || auth === 'admin') && o.cookie) return { cookie: o.cookie };
  return {};
}

function queryString(query: Record<string, unknown> | undefined): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
  }
  return params.toString();
}

function signalOf(options: CallOptions, clientTimeoutMs: number | undefined): AbortSignal | undefined {
  const timeoutMs = options.timeoutMs ?? clientTimeoutMs;
  const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  if (options.signal && timeout) return AbortSignal.any([options.signal, timeout]);
  return options.signal ?? timeout;
}

function isStream(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (Symbol.asyncIterator in body || (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream));
}

async function readBody(res: Response, json: boolean): Promise<unknown> {
  const text = await res.text().catch(() => '');
  if (!json) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
