// Where the project's files are, whether running from sources or from the compiled dist/ tree.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('durabox: cannot find the project root (package.json)');
    dir = up;
  }
  return dir;
}

export const repoRoot = findRoot();
export const workflowBundlePath = join(repoRoot, 'dist', 'workflow-bundle.js');
export const dashboardDir = join(repoRoot, 'api', 'dashboard');
