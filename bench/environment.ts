// What the figures were measured on: machine, Docker, Temporal, database, code revision.
import { execFile } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import type Docker from 'dockerode';
import pg from 'pg';
import { loadDevSettings } from '../config/index.js';
import { repoRoot } from '../config/paths.js';

export interface Environment {
  machine: { nproc: number; cpuModel: string; memoryMiB: number; kernel: string; loadAverageAtStart: number[]; node: string };
  docker: { serverVersion?: string; cgroupVersion?: string; storageDriver?: string; error?: string };
  temporal: { kind: string; cliVersion: string; address: string };
  database: { kind: string; server: string; version: string };
  revision: string;
}

function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: 10_000 }, (err, stdout) => resolve(err ? `unknown (${err.message.trim()})` : stdout.trim()));
  });
}

/** The server part of a connection string, without credentials. */
function withoutCredentials(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

async function databaseVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ version: string }>('select version() as version');
    return r.rows[0].version;
  } finally {
    await client.end();
  }
}

async function dockerInfo(docker: Docker): Promise<Environment['docker']> {
  try {
    const info = await docker.info();
    return { serverVersion: info.ServerVersion, cgroupVersion: info.CgroupVersion, storageDriver: info.Driver };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export async function describeEnvironment(o: { docker: Docker; temporalAddress: string; databaseUrl: string }): Promise<Environment> {
  return {
    machine: {
      nproc: Number(await run('nproc', [])) || availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMiB: Math.round(totalmem() / 1024 / 1024),
      kernel: release(),
      loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
      node: process.version,
    },
    docker: await dockerInfo(o.docker),
    temporal: { kind: 'temporal server start-dev (SQLite, WAL)', cliVersion: await run(loadDevSettings().temporalCli, ['--version']), address: o.temporalAddress },
    database: {
      kind: 'PostgreSQL',
      server: withoutCredentials(o.databaseUrl),
      version: await databaseVersion(o.databaseUrl).catch((e: Error) => `unknown (${e.message})`),
    },
    revision: await run('git', ['rev-parse', '--short', 'HEAD'], repoRoot),
  };
}
