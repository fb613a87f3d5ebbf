// The platform database: PostgreSQL through knex + pg, or, for `npm start` without DATABASE_URL, an
// embedded PGlite in the data dir (one connection, fine for one user on one machine).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { migrationSource } from './migrations.js';

export type Db = Knex;

export async function openDb(opts: { databaseUrl?: string; dataDir: string }): Promise<Db> {
  let db: Knex;
  if (opts.databaseUrl) {
    db = knexFactory({ client: 'pg', connection: opts.databaseUrl, pool: { min: 0, max: 10 } });
  } else {
    const { default: ClientPgLite } = await import('knex-pglite');
    const dir = join(opts.dataDir, 'pgdata');
    mkdirSync(dir, { recursive: true });
    db = knexFactory({ client: ClientPgLite as unknown as Knex.Config['client'], dialect: 'postgres', connection: { filename: dir } } as Knex.Config);
  }
  await db.migrate.latest({ migrationSource });
  return db;
}

/**
 * Rows a delete or update touched. knex over pg answers a number; knex over PGlite answers the driver's
 * result object (`{affectedRows}`), so code that compares the answer with a number breaks on the
 * embedded database. Every store counts through this.
 */
export function rowsTouched(result: unknown): number {
  if (typeof result === 'number') return result;
  const r = result as { affectedRows?: unknown; rowCount?: unknown } | null | undefined;
  const n = Number(r?.affectedRows ?? r?.rowCount ?? 0);
  return Number.isFinite(n) ? n : 0;
}

export async function dbReachable(db: Db): Promise<boolean> {
  try {
    await db.raw('select 1');
    return true;
  } catch {
    return false;
  }
}
