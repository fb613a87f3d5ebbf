// Every dependency with an install script has a recorded decision (package.json `allowScripts`, which npm
// reads) and the reason for it (`//allowScripts`, and a line in docs/decisions.md): `npm install` then runs the
// approved scripts, skips the denied ones and asks no newcomer to review them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../config/paths.js';

interface LockEntry { name?: string; version?: string; hasInstallScript?: boolean }

const readJson = (file: string) => JSON.parse(readFileSync(join(repoRoot, file), 'utf8'));
const pkg = readJson('package.json') as { allowScripts?: Record<string, unknown>; '//allowScripts'?: Record<string, unknown> };
const lock = readJson('package-lock.json') as { packages: Record<string, LockEntry> };

/** `node_modules/a/node_modules/@s/b` → `@s/b` (an aliased entry carries its real name). */
const nameOf = (path: string, entry: LockEntry) => entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
/** `@s/b@1.2.3` → `@s/b`; `ssh2` → `ssh2`. */
const specName = (spec: string) => spec.replace(/^(@?[^@]+)@.*$/, '$1');

const withScripts = [...new Set(Object.entries(lock.packages).filter(([path, e]) => path && e.hasInstallScript).map(([path, e]) => nameOf(path, e)))].sort();

describe('install scripts of dependencies', () => {
  it('the lock file has packages with install scripts (the check below is not vacuous)', () => {
    assert.ok(withScripts.length > 0);
  });

  it('package.json decides each one, as a boolean npm reads', () => {
    const decided = Object.keys(pkg.allowScripts ?? {}).map(specName);
    for (const name of withScripts) assert.ok(decided.includes(name), `${name} has an install script but no allowScripts entry`);
    for (const [spec, value] of Object.entries(pkg.allowScripts ?? {})) assert.equal(typeof value, 'boolean', `allowScripts["${spec}"]`);
  });

  it('no decision is left for a package that has no install script any more', () => {
    for (const spec of Object.keys(pkg.allowScripts ?? {})) assert.ok(withScripts.includes(specName(spec)), `allowScripts["${spec}"] names no package with an install script`);
  });

  it('each decision has its reason beside it and a line in docs/decisions.md', () => {
    const reasons = pkg['//allowScripts'] ?? {};
    const page = readFileSync(join(repoRoot, 'docs', 'decisions.md'), 'utf8');
    const from = page.indexOf('## Dependencies and why');
    assert.ok(from >= 0, 'docs/decisions.md has no "Dependencies and why" section');
    const next = page.indexOf('\n## ', from + 1);
    const deps = page.slice(from, next < 0 ? undefined : next);
    for (const name of withScripts) {
      assert.ok(typeof reasons[name] === 'string' && (reasons[name] as string).length > 20, `//allowScripts gives no reason for ${name}`);
      assert.ok(deps.includes(`\`${name}\``), `docs/decisions.md's "Dependencies and why" does not name ${name}`);
    }
  });
});
