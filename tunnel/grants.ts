// Tunnel grants: what lets the API open a stream into one session's container through that container's
// host (docs/workbench/tunnel.md). The API signs each with an Ed25519 key derived from DURABOX_HASH_KEY, so
// every API process signs alike; a host holds only the public half (handed over with every registry
// answer), so a host can check a grant but never make one, neither for itself nor for another host.
import { createHmac, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/** What a tunnel reaches in the container: a port on its own localhost (maybe its browser's), a terminal, or the list of listening ports. */
export const TunnelTarget = z.union([
  z.strictObject({ port: z.int().min(1).max(65535), browser: z.boolean().optional() }),
  z.strictObject({ pty: z.strictObject({ name: z.string().min(1).max(64), cols: z.int().min(1).max(1000), rows: z.int().min(1).max(1000) }) }),
  z.strictObject({ ports: z.literal(true) }),
]);
export type TunnelTarget = z.output<typeof TunnelTarget>;

const Claims = z.strictObject({
  /** The container. */
  c: z.string().min(1).max(128),
  /** The host it runs on (the worker id). */
  h: z.string().min(1).max(128),
  /** What in it. */
  t: TunnelTarget,
  /** Expiry, milliseconds since the epoch. */
  x: z.int(),
});
export type TunnelClaims = z.output<typeof Claims>;

/** A grant lives this long: enough to cross to the host, too short to be worth keeping. */
export const TUNNEL_GRANT_TTL_MS = 30_000;

// PKCS#8 framing of a raw 32-byte Ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export interface TunnelKeys { privateKey: KeyObject; publicKey: string }

export function tunnelKeys(hashKey: string): TunnelKeys {
  const seed = createHmac('sha256', hashKey).update('durabox tunnel grants v1').digest();
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
  return { privateKey, publicKey };
}

export function publicTunnelKey(spkiBase64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' });
}

export function signTunnelGrant(privateKey: KeyObject, claims: TunnelClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `t1.${body}.${sign(null, Buffer.from(body), privateKey).toString('base64url')}`;
}

/** The claims of a grant this host may honour, or why not. */
export function openTunnelGrant(publicKey: KeyObject | undefined, grant: unknown, hostId: string, nowMs = Date.now()): TunnelClaims | string {
  if (!publicKey) return 'this host has not heard from the API yet';
  if (typeof grant !== 'string' || grant.length > 4096) return 'not a grant';
  const [version, body, sig] = grant.split('.');
  if (version !== 't1' || !body || !sig) return 'not a grant';
  if (!verify(null, Buffer.from(body), publicKey, Buffer.from(sig, 'base64url'))) return 'a grant with a bad signature';
  let claims: TunnelClaims;
  try {
    claims = Claims.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    return 'not a grant';
  }
  if (claims.h !== hostId) return 'a grant for another host';
  if (claims.x < nowMs) return 'an expired grant';
  return claims;
}
