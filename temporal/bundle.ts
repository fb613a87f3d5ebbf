// Builds the workflow bundle once (`npm run build`) so workers start without bundling.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { componentLog } from '../config/log.js';
import { repoRoot, workflowBundlePath } from '../config/paths.js';

const { code } = await bundleWorkflowCode({
  workflowsPath: join(repoRoot, 'dist', 'workflows', 'index.js'),
  // Names a workflow's failure in the SDK's "Workflow failed" line (see workflows/log-attributes.ts).
  workflowInterceptorModules: [join(repoRoot, 'dist', 'workflows', 'log-attributes.js')],
  logger: undefined,
});
await writeFile(workflowBundlePath, code);
componentLog('build').info({ path: workflowBundlePath, kib: Math.round(code.length / 1024) }, 'workflow bundle written');
