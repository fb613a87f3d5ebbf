#!/usr/bin/env node
// The `durabox` command of the installed package: one entry for every process a host runs, so an
// execution host needs `npm install -g durabox-<version>.tgz` and Docker, not a checkout and a build.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { settingsOf, type SettingUser } from '../config/catalog.js';
import { PRODUCT_VERSION, repoRoot } from '../config/paths.js';

interface Command {
  summary: string;
  /** Whose settings its --help lists. */
  users: SettingUser[];
  run(): Promise<unknown>;
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'the whole platform on this machine: a Temporal dev server, the embedded database (or DATABASE_URL), the API with MCP and the dashboard, and one runtime worker',
    users: ['api', 'worker', '`npm start`'],
    run: () => import('../local/start.js'),
  },
  api: {
    summary: 'the control plane: REST API, MCP, dashboard and the control worker that runs every workflow',
    users: ['api'],
    run: () => import('../api/main.js'),
  },
  worker: {
    summary: 'an execution host\'s runtime worker: polls its runtimes\' queues and runs each execution in a Docker container on this host',
    users: ['worker'],
    run: () => import('../workers/runtime.js'),
  },
  gateway: {
    summary: 'the host gateway beside Temporal: execution hosts reach Temporal only through it, with their per-host certificates',
    users: ['gateway'],
    run: () => import('../gateway/main.js'),
  },
  images: {
    summary: 'builds the sandbox images on this host\'s Docker daemon (from Debian packages, no registry needed; run as root)',
    users: ['image script'],
    run: async () => {
      const r = spawnSync('bash', [join(repoRoot, 'deploy', 'images', 'build.sh')], { stdio: 'inherit' });
      process.exitCode = r.status ?? 1;
    },
  },
};

/** A settings-table cell (markdown, as docs/settings.md shows it) as plain text for a terminal. */
const plain = (md: string) => md.replaceAll('`', '').replaceAll('\\|', '|');

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    `durabox ${PRODUCT_VERSION}: durable code-execution sandboxes (every execution a Temporal workflow)`,
    '',
    'Usage: durabox <command> [--help]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Settings come from the environment; `durabox <command> --help` lists those the command reads.',
  ].join('\n');
}

function help(name: string, command: Command): string {
  const lines = [`durabox ${name}: ${command.summary}`, '', `Usage: durabox ${name}`, '', 'Settings (environment variables):'];
  for (const s of settingsOf(command.users)) {
    lines.push(`  ${s.names.join(', ')}`, `      default: ${plain(s.default)}`, `      ${plain(s.meaning)}`);
  }
  return lines.join('\n');
}

const [name, ...rest] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
  console.log(usage());
} else if (name === '--version' || name === '-v') {
  console.log(PRODUCT_VERSION);
} else if (!command) {
  console.error(`durabox: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
  process.exitCode = 2;
} else if (rest.includes('--help') || rest.includes('-h')) {
  console.log(help(name, command));
} else if (rest.length > 0) {
  console.error(`durabox ${name}: takes no arguments (settings come from the environment), got ${rest.join(' ')}\n\n${help(name, command)}`);
  process.exitCode = 2;
} else {
  await command.run();
}
