// Builds the workflow bundle once (`npm run build`) so workers start without bundling.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot, workflowBundlePath } from '../config/paths.js';

const { code } = await bundleWorkflowCode({ workflowsPath: join(repoRoot, 'dist', 'workflows', 'index.js'), logger: undefined });
await writeFile(workflowBundlePath, code);
console.log(`workflow bundle: ${workflowBundlePath} (${(code.length / 1024).toFixed(0)} KiB)`);
