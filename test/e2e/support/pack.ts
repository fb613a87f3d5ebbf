// This run's build packed once (`npm pack` of dist/ as it is: no prepack build under a running suite),
// for the suites that install it or build the platform image from it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../../config/paths.js';

const run = promisify(execFile);
let packed: Promise<string> | undefined;

/** The path of durabox-<version>.tgz, made at the first call of the run. */
export function packedPackage(): Promise<string> {
  packed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'durabox-pack-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: repoRoot });
    return join(dir, stdout.trim().split('\n').at(-1)!);
  })();
  return packed;
}
