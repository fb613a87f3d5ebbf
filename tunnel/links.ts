// Signed links to a session's port or terminal: a URL that opens it without a token, for a person's
// browser (a preview, a shared terminal) or a program that cannot send headers. Each names one account,
// session and target and expires; it is signed with a key of its own derived from DURABOX_HASH_KEY.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

const Claims = z.strictObject({
  a: z.string().max(64),
  s: z.string().max(192),
  /** The port it opens, or 0 for the session's terminal. */
  p: z.int().min(0).max(65535),
  x: z.int(),
});
export type LinkClaims = z.output<typeof Claims>;

/** The terminal's "port" in a link. */
export const PTY_LINK = 0;

function linkKey(hashKey: string): Buffer {
  return createHmac('sha256', hashKey).update('durabox session links v1').digest();
}

export function signLink(hashKey: string, claims: LinkClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `l1.${body}.${createHmac('sha256', linkKey(hashKey)).update(body).digest('base64url')}`;
}

/** The link's claims when it is genuine and current, else undefined. */
export function openLink(hashKey: string, link: string | undefined, nowMs = Date.now()): LinkClaims | undefined {
  if (!link || link.length > 2048) return undefined;
  const [version, body, mac] = link.split('.');
  if (version !== 'l1' || !body || !mac) return undefined;
  const expected = createHmac('sha256', linkKey(hashKey)).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const claims = Claims.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
    return claims.x >= nowMs ? claims : undefined;
  } catch {
    return undefined;
  }
}
