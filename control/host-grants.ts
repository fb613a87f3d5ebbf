// Host grants (spec §7): a host's credential says who the host is, not what it may touch. What a host
// may read or write through the registry routes (a session's checkpoint, a task's or command's output
// stream) is named by a short-lived grant that the control plane signs for one step and hands to the
// host inside that step's activity input: only the host given the step holds it, and only until it
// expires. The API checks every grant against the route's account, session or stream, the calling host
// and the clock.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ANY_HOST } from '../contract/queues.js';

export const GRANT_KINDS = ['snapshot', 'output'] as const;
export type GrantKind = (typeof GRANT_KINDS)[number];

/** Any host: a step on a shared queue, whose host is not known when it is signed. */
export { ANY_HOST };

const Claims = z.strictObject({
  /** What it opens. */
  k: z.enum(GRANT_KINDS),
  /** The account whose session's checkpoint it opens (snapshot grants). */
  a: z.string().max(64).optional(),
  /** The session (snapshot) or the output stream (output). */
  s: z.string().max(192),
  /** The host it was given to, or ANY_HOST. */
  h: z.string().max(128),
  /** Expiry, milliseconds since the epoch. */
  x: z.number().int(),
  /** Snapshot grants: the generation of the session's container the step runs in (0: before generations). */
  g: z.number().int().min(0).optional(),
});
export type GrantClaims = z.output<typeof Claims>;

const b64 = (b: Buffer) => b.toString('base64url');

/** Grants are signed with a key of their own, derived from DURABOX_HASH_KEY. */
function grantKey(hashKey: string): Buffer {
  return createHmac('sha256', hashKey).update('durabox host grants v1').digest();
}

export function signGrant(hashKey: string, claims: GrantClaims): string {
  const body = b64(Buffer.from(JSON.stringify(claims)));
  return `g1.${body}.${b64(createHmac('sha256', grantKey(hashKey)).update(body).digest())}`;
}

type Want = { kind: GrantKind; accountId?: string; subject: string; hostId: string };

/** Why a grant does not open what was asked; undefined when it does. */
export function grantRefusal(hashKey: string, grant: string | undefined, want: Want, nowMs = Date.now()): string | undefined {
  const opened = openGrant(hashKey, grant, want, nowMs);
  return typeof opened === 'string' ? opened : undefined;
}

/** The claims of a grant that opens what was asked, or why it does not. */
export function openGrant(hashKey: string, grant: string | undefined, want: Want, nowMs = Date.now()): GrantClaims | string {
  if (!grant) return 'no grant: the step that holds this work names one';
  const [version, body, mac] = grant.split('.');
  if (version !== 'g1' || !body || !mac || grant.length > 2048) return 'not a grant';
  const expected = createHmac('sha256', grantKey(hashKey)).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'a grant with a bad signature';
  let claims: GrantClaims;
  try {
    claims = Claims.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    return 'not a grant';
  }
  if (claims.k !== want.kind) return `a grant for ${claims.k}, not ${want.kind}`;
  if (claims.s !== want.subject || (want.accountId !== undefined && claims.a !== want.accountId)) return 'a grant for other work';
  if (claims.h !== ANY_HOST && claims.h !== want.hostId) return 'a grant given to another host';
  if (claims.x < nowMs) return 'an expired grant';
  return claims;
}
