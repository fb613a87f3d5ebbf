// Accounts, their access tokens and their dashboard login sessions. Secrets arrive here already hashed.
import type { LimitOverrides } from '../contract/limits.js';
import { rowsTouched, type Db } from './index.js';

export interface Account { id: string; username: string; is_admin: boolean; created_at: Date; updated_at: Date }
export interface AccountRow extends Account { password_hash: string }
export interface TokenRow { id: string; account_id: string; name: string; token_masked: string; generated: boolean; created_at: Date; updated_at: Date }

const ACCOUNT_COLUMNS = ['id', 'username', 'is_admin', 'created_at', 'updated_at'];

export class UniqueViolation extends Error {
  constructor(readonly constraint: string) { super(`unique violation: ${constraint}`); }
}

function rethrowUnique(e: unknown): never {
  const err = e as { code?: string; constraint?: string };
  if (err.code === '23505') throw new UniqueViolation(err.constraint ?? '');
  throw e;
}

export class AccountStore {
  constructor(private readonly db: Db) {}

  async count(): Promise<number> {
    const [{ n }] = await this.db('accounts').count<{ n: string }[]>({ n: '*' });
    return Number(n);
  }

  async create(a: { id: string; username: string; passwordHash: string; isAdmin: boolean }): Promise<Account> {
    try {
      const [row] = await this.db('accounts')
        .insert({ id: a.id, username: a.username, username_lower: a.username.toLowerCase(), password_hash: a.passwordHash, is_admin: a.isAdmin })
        .returning(ACCOUNT_COLUMNS);
      return row as Account;
    } catch (e) {
      rethrowUnique(e);
    }
  }

  async byUsername(username: string): Promise<AccountRow | undefined> {
    return this.db('accounts').where({ username_lower: username.toLowerCase() }).first();
  }

  async byId(id: string): Promise<Account | undefined> {
    return this.db('accounts').select(ACCOUNT_COLUMNS).where({ id }).first();
  }

  async list(page: number, pageSize: number): Promise<Account[]> {
    return this.db('accounts').select(ACCOUNT_COLUMNS).orderBy([{ column: 'created_at' }, { column: 'id' }]).offset((page - 1) * pageSize).limit(pageSize);
  }

  /** Deletes the account with its tokens and login sessions (foreign keys cascade). */
  async delete(id: string): Promise<boolean> {
    return rowsTouched(await this.db('accounts').where({ id }).delete()) > 0;
  }

  /** The admin's overrides of the account's limits; undefined when there is no such account. */
  async limitOverrides(id: string): Promise<LimitOverrides | undefined> {
    const row = await this.db('accounts').select('limits').where({ id }).first();
    if (!row) return undefined;
    return (typeof row.limits === 'string' ? JSON.parse(row.limits) : row.limits) ?? {};
  }

  async setLimitOverrides(id: string, overrides: LimitOverrides): Promise<boolean> {
    return rowsTouched(await this.db('accounts').where({ id }).update({ limits: JSON.stringify(overrides), updated_at: this.db.fn.now() })) > 0;
  }

  async countTokens(accountId: string): Promise<number> {
    return this.countOf('access_tokens', accountId);
  }

  async countTemplates(accountId: string): Promise<number> {
    return this.countOf('templates', accountId);
  }

  /** The account's named snapshots: how many, and the bytes they take in the snapshot store. */
  async snapshotsHeld(accountId: string): Promise<{ count: number; bytes: number }> {
    const r = await this.db('named_snapshots').where({ account_id: accountId }).first(this.db.raw('count(*) as n'), this.db.raw('coalesce(sum(bytes), 0) as bytes'));
    return { count: Number(r.n), bytes: Number(r.bytes) };
  }

  private async countOf(table: string, accountId: string): Promise<number> {
    const [{ n }] = await this.db(table).where({ account_id: accountId }).count<{ n: string }[]>({ n: '*' });
    return Number(n);
  }

  async byTokenHash(tokenHash: string): Promise<Account | undefined> {
    return this.db('access_tokens as t')
      .join('accounts as a', 'a.id', 't.account_id')
      .where('t.token_hash', tokenHash)
      .first(ACCOUNT_COLUMNS.map((c) => `a.${c}`));
  }

  async createToken(t: { id: string; accountId: string; name: string; tokenHash: string; masked: string; generated: boolean }): Promise<TokenRow> {
    try {
      const [row] = await this.db('access_tokens')
        .insert({ id: t.id, account_id: t.accountId, name: t.name, name_lower: t.name.toLowerCase(), token_hash: t.tokenHash, token_masked: t.masked, generated: t.generated })
        .returning(['id', 'account_id', 'name', 'token_masked', 'generated', 'created_at', 'updated_at']);
      return row as TokenRow;
    } catch (e) {
      rethrowUnique(e);
    }
  }

  async listTokens(accountId: string): Promise<TokenRow[]> {
    return this.db('access_tokens')
      .select('id', 'account_id', 'name', 'token_masked', 'generated', 'created_at', 'updated_at')
      .where({ account_id: accountId })
      .orderBy('created_at', 'asc');
  }

  async deleteToken(accountId: string, id: string): Promise<boolean> {
    return rowsTouched(await this.db('access_tokens').where({ id, account_id: accountId }).delete()) > 0;
  }

  async createLoginSession(idHash: string, accountId: string, expiresAt: Date): Promise<void> {
    await this.db('console_sessions').insert({ id_hash: idHash, account_id: accountId, expires_at: expiresAt });
  }

  async accountOfLoginSession(idHash: string): Promise<Account | undefined> {
    return this.db('console_sessions as s')
      .join('accounts as a', 'a.id', 's.account_id')
      .where('s.id_hash', idHash)
      .andWhere('s.expires_at', '>', new Date())
      .first(ACCOUNT_COLUMNS.map((c) => `a.${c}`));
  }

  async deleteLoginSession(idHash: string): Promise<void> {
    await this.db('console_sessions').where({ id_hash: idHash }).delete();
  }
}
