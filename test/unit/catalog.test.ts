import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS, settingsOf, settingsTable } from '../../config/catalog.js';
import { loadConfig, loadGatewaySettings, type Env } from '../../config/index.js';
import { repoRoot } from '../../config/paths.js';

/** An empty environment that records every variable a loader reads. */
function recordingEnv(): { env: Env; read: Set<string> } {
  const read = new Set<string>();
  const env = new Proxy({} as Env, {
    get(_t, name) {
      if (typeof name === 'string') read.add(name);
      return undefined;
    },
  });
  return { env, read };
}

describe('settings catalog', () => {
  const documented = new Set(SETTINGS.flatMap((s) => s.names));

  it('documents every variable the settings loaders read', () => {
    const { env, read } = recordingEnv();
    loadConfig(env);
    loadGatewaySettings(env);
    assert.ok(read.size > 40, `the loaders read only ${read.size} variables: the recording missed them`);
    const missing = [...read].filter((n) => !documented.has(n));
    assert.deepEqual(missing, [], 'settings read but not in config/catalog.ts');
  });

  it('is the settings table of docs/settings.md, word for word', () => {
    const page = readFileSync(join(repoRoot, 'docs', 'settings.md'), 'utf8');
    assert.ok(page.includes(`${settingsTable()}\n`), 'docs/settings.md\'s settings table differs from config/catalog.ts: run npm run settings-table');
  });

  it('names each variable once', () => {
    const all = SETTINGS.flatMap((s) => s.names);
    assert.equal(new Set(all).size, all.length);
  });

  it('gives a worker its own settings and the shared ones, not the API\'s', () => {
    const worker = new Set(settingsOf(['worker']).flatMap((s) => s.names));
    for (const n of ['DURABOX_API_URL', 'DURABOX_WORKER_SECRET', 'DURABOX_RUNTIMES', 'TEMPORAL_ADDRESS', 'DURABOX_DATA_DIR']) assert.ok(worker.has(n), n);
    for (const n of ['DURABOX_HASH_KEY', 'DATABASE_URL', 'DURABOX_GATEWAY_ADDR']) assert.ok(!worker.has(n), n);
  });
});
