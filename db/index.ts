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

export async function dbReachable(db: Db): Promise<boolean> {
  try {
    await db.raw('select 1');
    return true;
  } catch {
    return false;
  }
}
