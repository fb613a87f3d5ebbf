// Where the project's files are, whether running from sources or from the compiled dist/ tree, and the
// product version (package.json is its one source).
import { existsSync, readFileSync } from 'node:fs';
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
/** The same workflows with the OpenTelemetry workflow interceptors built in, for a process with tracing. */
export const tracedWorkflowBundlePath = join(repoRoot, 'dist', 'workflow-bundle-traced.js');
export const dashboardBuildDir = join(repoRoot, 'dist', 'dashboard');
/** The programs that run inside the containers (sandbox/inside/): read when a container is made. */
export const sandboxProgramsDir = join(repoRoot, 'sandbox', 'inside');

export const PRODUCT_VERSION: string = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version;
