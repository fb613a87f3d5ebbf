// Secrets: ids, tokens, keyed hashes and password hashes. Nothing here stores or logs a plaintext.
import { createHash, createHmac, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '')}`;
}

/** HMAC-SHA-256 with DURABOX_HASH_KEY: tokens, worker secrets and login sessions are stored only so. */
export function keyedHash(key: string, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

export function generateToken(): string {
  return `dbx_${randomBytes(24).toString('hex')}`;
}

/** A runtime worker's secret (POST /workers); shown once, stored as its keyed hash. */
export function generateWorkerSecret(): string {
  return `dbxw_${randomBytes(24).toString('hex')}`;
}

export function maskToken(token: string): string {
  if (token.length <= 8) return '*'.repeat(token.length);
  return `${token.slice(0, 4)}${'*'.repeat(Math.min(16, token.length - 8))}${token.slice(-4)}`;
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$');
  if (kind !== 'scrypt' || !hash) return false;
  const want = Buffer.from(hash, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), want.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT.maxmem });
  return timingSafeEqual(got, want);
}

/** Compares two secrets in constant time (by their SHA-256, so lengths leak nothing either). */
export function sameSecret(got: string, want: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(got), digest(want));
}

export function generatePassword(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * A secret shown once (a generated first admin password, `npm start`'s first token) goes to a file only
 * its owner reads, never to the log; the log names the file.
 */
export function writeSecretFile(path: string, value: string): string {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return path;
}
