// What the peer APIs (OpenSandbox, E2B) share: every peer sandbox is a durabox session, its API key a
// durabox access token, its template a durabox template, its home the session's /workspace.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Account } from '../db/accounts.js';
import { keyedHash } from '../control/security.js';
import type { AppDeps } from '../api/context.js';
import { SOURCE_MAX_JSON_BYTES } from '../contract/schemas.js';

/** The home peer SDKs name by default (E2B's user home); in a durabox container it is a link to /workspace. */
export const PEER_HOME = '/home/user';
const WORKSPACE = '/workspace';

/** The account whose access token `key` is (undefined: none, or not a token of any account). */
export async function accountOfKey(deps: AppDeps, key: string | undefined): Promise<Account | undefined> {
  if (!key || key.length > 512) return undefined;
  return deps.accounts.byTokenHash(keyedHash(deps.hashKey, key));
}

/**
 * The durabox template a peer's template (or image) name runs in: the peers' default names and `python`
 * are the built-in terminal template (its image carries the interpreter's stack); anything else is a
 * template of durabox's own (`browser`) or the account's, which the session service checks.
 */
export function sessionTemplateOf(name: string | undefined): string | undefined {
  if (name === undefined || name === '') return undefined;
  const bare = name.replace(/:latest$/, '');
  if (['terminal', 'python', 'base', 'code-interpreter', 'code-interpreter-v1', 'code-interpreter-beta'].includes(bare)) return undefined;
  return bare;
}

/** A path a peer SDK names, as the session's file service knows it: the peer home is /workspace. */
export function toSessionPath(path: string, cwd = WORKSPACE): string {
  const abs = path.startsWith('/') ? path : `${cwd.replace(/\/+$/, '')}/${path}`;
  if (abs === PEER_HOME || abs.startsWith(`${PEER_HOME}/`)) return WORKSPACE + abs.slice(PEER_HOME.length);
  return abs;
}

/** A session path as a peer SDK that named its home `home` expects to see it back. */
export function toPeerPath(path: string, home = PEER_HOME): string {
  if (home === WORKSPACE) return path;
  if (path === WORKSPACE || path.startsWith(`${WORKSPACE}/`)) return home + path.slice(WORKSPACE.length);
  return path;
}

/**
 * Why a command or a cell (as it will run: with its exports) is too large for durabox, or undefined. It
 * travels in a workflow Update, so it gets durabox's own API bound (contract/schemas.ts), checked before
 * anything runs or streams: past Temporal's payload limit the Update would fail unexpectedly.
 */
export function tooLargeToRun(text: string): string | undefined {
  const bytes = Buffer.byteLength(JSON.stringify(text));
  return bytes > SOURCE_MAX_JSON_BYTES ? `is ${bytes} bytes once JSON-encoded (with the sandbox's variables), more than durabox's ${SOURCE_MAX_JSON_BYTES}` : undefined;
}

/**
 * The headers peer SDKs carry their credentials in: an API key (a durabox access token), OpenSandbox's execd
 * token, E2B's envd and traffic tokens. The port proxy never passes them to a sandbox's own servers, as it
 * never passes `Authorization` or the login cookie: the code in a sandbox must not learn a key of the account.
 */
export const PEER_CREDENTIAL_HEADERS: readonly string[] = ['open-sandbox-api-key', 'open-sandbox-execd-token', 'x-api-key', 'x-access-token', 'e2b-traffic-access-token'];

/** Most entries of a sandbox's metadata or variables: they live in its workflow's memo, read by every list. */
export const PEER_MAP_MAX_ENTRIES = 64;
/**
 * A sandbox's metadata or environment map as the peers send it, bounded: 64 entries, names up to 256
 * characters, values up to 4 KiB (a few hundred KiB of memo at most, not the megabyte an unbounded map made).
 */
export const peerStringMap = z.record(z.string().min(1).max(256), z.string().max(4096))
  .refine((m) => Object.keys(m).length <= PEER_MAP_MAX_ENTRIES, { message: `at most ${PEER_MAP_MAX_ENTRIES} entries` });

/**
 * A peer's signed token: `<version>.<claims, base64url JSON>.<HMAC-SHA256>`, under a key derived from
 * DURABOX_HASH_KEY for that version alone, so a token of one peer or kind is never taken for another's.
 */
export function signPeerToken(hashKey: string, version: string, claims: object): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${version}.${body}.${createHmac('sha256', peerTokenKey(hashKey, version)).update(body).digest('base64url')}`;
}

/** The claims of a genuine token of `version` (still to be checked by the caller), else undefined. */
export function openPeerToken(hashKey: string, version: string, token: string | undefined): Record<string, unknown> | undefined {
  if (!token || token.length > 1024) return undefined;
  const [v, body, mac, ...rest] = token.split('.');
  if (v !== version || !body || !mac || rest.length > 0) return undefined;
  const expected = createHmac('sha256', peerTokenKey(hashKey, version)).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown;
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? claims as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** The keys of tokens made before they shared this code keep their labels, so tokens already out stay valid. */
const PEER_TOKEN_LABELS: Record<string, string> = { e2b1: 'durabox e2b sandbox tokens v1', x1: 'durabox opensandbox execd v1' };
function peerTokenKey(hashKey: string, version: string): Buffer {
  return createHmac('sha256', hashKey).update(PEER_TOKEN_LABELS[version] ?? `durabox peer tokens ${version}`).digest();
}

/** A word for a POSIX shell, single-quoted: every peer field that reaches a shell goes through this. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A variable name a shell cannot export (the first), or undefined: sandbox and call variables alike. */
export function badEnvName(envs: Record<string, string>): string | undefined {
  return Object.keys(envs).find((k) => !ENV_NAME.test(k));
}

