// Schema migrations, kept in code so the compiled tree needs no migration folder on disk.
import type { Knex } from 'knex';

interface Migration { up(db: Knex): Promise<void>; down(db: Knex): Promise<void> }

const migrations: Record<string, Migration> = {
  '001_accounts_tokens_sessions': {
    async up(db) {
      await db.schema.createTable('accounts', (t) => {
        t.text('id').primary();
        t.text('username').notNullable();
        t.text('username_lower').notNullable().unique();
        t.text('password_hash').notNullable();
        t.boolean('is_admin').notNullable().defaultTo(false);
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
      });
      await db.schema.createTable('access_tokens', (t) => {
        t.text('id').primary();
        t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
        t.text('name').notNullable();
        t.text('name_lower').notNullable();
        t.text('token_hash').notNullable().unique();
        t.text('token_masked').notNullable();
        t.boolean('generated').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.unique(['account_id', 'name_lower']);
      });
      await db.schema.createTable('console_sessions', (t) => {
        t.text('id_hash').primary();
        t.text('account_id').notNullable().references('accounts.id').onDelete('CASCADE');
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.timestamp('expires_at', { useTz: true }).notNullable();
      });
    },
    async down(db) {
      await db.schema.dropTable('console_sessions');
      await db.schema.dropTable('access_tokens');
      await db.schema.dropTable('accounts');
    },
  },
  '002_workers': {
    async up(db) {
      // One row per worker credential (secret as a keyed hash); its reports fill in the rest.
      await db.schema.createTable('workers', (t) => {
        t.text('node_id').primary();
        t.text('secret_hash').notNullable();
        t.text('created_by').nullable().references('accounts.id').onDelete('SET NULL');
        t.text('node_name').notNullable().defaultTo('');
        t.text('executor_kind').notNullable().defaultTo('');
        t.text('version').notNullable().defaultTo('');
        t.jsonb('labels').notNullable().defaultTo(db.raw(`'{}'::jsonb`));
        t.jsonb('capabilities').notNullable().defaultTo(db.raw(`'[]'::jsonb`));
        t.integer('offline_after_ms').nullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.timestamp('registered_at', { useTz: true }).nullable();
        t.timestamp('last_seen_at', { useTz: true }).nullable();
        t.timestamp('stopped_at', { useTz: true }).nullable();
      });
    },
    async down(db) {
      await db.schema.dropTable('workers');
    },
  },
  '003_output_chunks': {
    async up(db) {
      // Output of running work as it is written: a view for streams (the durable result is the workflow's),
      // kept a short while so a client that connects late gets what was already written.
      await db.schema.createTable('output_chunks', (t) => {
        t.text('stream_id').notNullable();
        t.integer('seq').notNullable();
        t.text('stream').notNullable();
        t.text('text').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.primary(['stream_id', 'seq']);
        t.index(['created_at']);
      });
    },
    async down(db) {
      await db.schema.dropTable('output_chunks');
    },
  },
  '004_account_limits': {
    async up(db) {
      // An admin's overrides of the account's limits ({max_sessions: 5, …}); null: every default.
      await db.schema.alterTable('accounts', (t) => { t.jsonb('limits'); });
    },
    async down(db) {
      await db.schema.alterTable('accounts', (t) => { t.dropColumn('limits'); });
    },
  },
  '005_session_snapshots': {
    async up(db) {
      // The latest checkpoint of each session's /workspace (a gzipped tar), written by its host and read by
      // the host a session moves to. One row per session, replaced by each checkpoint, dropped with the session.
      await db.schema.createTable('session_snapshots', (t) => {
        t.text('account_id').notNullable();
        t.text('session_id').notNullable();
        t.text('digest').notNullable();
        t.bigInteger('raw_bytes').notNullable();
        t.binary('data').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.primary(['account_id', 'session_id']);
      });
    },
    async down(db) {
      await db.schema.dropTable('session_snapshots');
    },
  },
  '006_templates': {
    async up(db) {
      // Accounts' templates (spec §3.2): what to build and its state; and each host's build of it, with
      // the end of its log. A template's id is new at every creation, so a name deleted and created again
      // never shows the old builds.
      await db.schema.createTable('templates', (t) => {
        t.text('id').primary();
        t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
        t.text('name').notNullable();
        t.text('base').notNullable();
        t.text('image').notNullable();
        t.jsonb('spec').notNullable();
        t.text('status').notNullable();
        t.text('error');
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.unique(['account_id', 'name']);
        t.index(['image']);
      });
      await db.schema.createTable('template_hosts', (t) => {
        t.text('template_id').notNullable().references('id').inTable('templates').onDelete('CASCADE');
        t.text('node_id').notNullable();
        t.text('status').notNullable();
        t.double('seconds');
        t.text('log').notNullable().defaultTo('');
        t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.primary(['template_id', 'node_id']);
      });
    },
    async down(db) {
      await db.schema.dropTable('template_hosts');
      await db.schema.dropTable('templates');
    },
  },
  '007_checkpoint_chains': {
    async up(db) {
      // A session's checkpoint is a chain: a full tar (session_snapshots, now the chain's base) and the
      // deltas stored after it, each a tar of what changed since the one before. The head numbers the
      // deltas and holds the generation of the container that may write: a restore elsewhere raises it,
      // and a host left with an older container can never write again (fencing).
      await db.schema.alterTable('session_snapshots', (t) => {
        t.bigInteger('seq').notNullable().defaultTo(0);
      });
      await db.schema.createTable('session_snapshot_deltas', (t) => {
        t.text('account_id').notNullable();
        t.text('session_id').notNullable();
        t.bigInteger('seq').notNullable();
        t.text('digest').notNullable();
        t.bigInteger('raw_bytes').notNullable();
        t.binary('data').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.primary(['account_id', 'session_id', 'seq']);
      });
      await db.schema.createTable('session_snapshot_heads', (t) => {
        t.text('account_id').notNullable();
        t.text('session_id').notNullable();
        t.integer('generation').notNullable();
        t.bigInteger('last_seq').notNullable().defaultTo(0);
        t.primary(['account_id', 'session_id']);
      });
    },
    async down(db) {
      await db.schema.dropTable('session_snapshot_heads');
      await db.schema.dropTable('session_snapshot_deltas');
      await db.schema.alterTable('session_snapshots', (t) => { t.dropColumn('seq'); });
    },
  },
  '008_named_snapshots': {
    async up(db) {
      // Named snapshots (spec §6): a copy of a session's checkpoint chain kept under a name of its account,
      // beyond the session's life; a new session can start from it. The parts are copied rows, so a snapshot
      // never changes when its session goes on, and deleting it touches no session.
      await db.schema.createTable('named_snapshots', (t) => {
        t.text('account_id').notNullable().references('id').inTable('accounts').onDelete('CASCADE');
        t.text('name').notNullable();
        t.text('source_session_id').notNullable();
        t.text('template');
        t.integer('parts').notNullable();
        t.bigInteger('bytes').notNullable();
        t.bigInteger('raw_bytes').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(db.fn.now());
        t.primary(['account_id', 'name']);
      });
      await db.schema.createTable('named_snapshot_parts', (t) => {
        t.text('account_id').notNullable();
        t.text('name').notNullable();
        t.bigInteger('seq').notNullable();
        t.text('kind').notNullable();
        t.text('digest').notNullable();
        t.bigInteger('raw_bytes').notNullable();
        t.binary('data').notNullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.primary(['account_id', 'name', 'seq']);
        t.foreign(['account_id', 'name']).references(['account_id', 'name']).inTable('named_snapshots').onDelete('CASCADE');
      });
    },
    async down(db) {
      await db.schema.dropTable('named_snapshot_parts');
      await db.schema.dropTable('named_snapshots');
    },
  },
  '009_snapshot_part_bytes': {
    async up(db) {
      // A part's bytes may live outside its row (an S3-compatible store, DURABOX_SNAPSHOT_URL): the row then
      // has no data, and keeps the part's size beside its digest.
      for (const table of ['session_snapshots', 'session_snapshot_deltas', 'named_snapshot_parts']) {
        await db.schema.alterTable(table, (t) => { t.bigInteger('bytes'); });
        await db(table).update({ bytes: db.raw('length(data)') });
        await db.schema.alterTable(table, (t) => {
          t.bigInteger('bytes').notNullable().alter();
          t.binary('data').nullable().alter();
        });
      }
    },
    async down(db) {
      for (const table of ['session_snapshots', 'session_snapshot_deltas', 'named_snapshot_parts']) {
        await db(table).whereNull('data').delete();
        await db.schema.alterTable(table, (t) => {
          t.dropColumn('bytes');
          t.binary('data').notNullable().alter();
        });
      }
    },
  },
  '010_worker_tunnel': {
    async up(db) {
      // Where the API reaches the host's tunnel listener (the workbench's ports, browser, terminals).
      await db.schema.alterTable('workers', (t) => { t.string('tunnel_address', 255); });
    },
    async down(db) {
      await db.schema.alterTable('workers', (t) => { t.dropColumn('tunnel_address'); });
    },
  },
};

export const migrationSource: Knex.MigrationSource<Migration> = {
  getMigrations: async () => Object.values(migrations),
  getMigrationName: (m) => Object.keys(migrations).find((k) => migrations[k] === m)!,
  getMigration: async (m) => m,
};
