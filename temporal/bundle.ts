// Builds the workflow bundles once (`npm run build`) so workers start without bundling: the plain one,
// and one with the OpenTelemetry workflow interceptors (workflows/tracing-interceptors.ts), which a
// control worker with tracing loads: a bundle's interceptors are fixed when it is built, and the plain
// path should not pay for spans.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { componentLog } from '../config/log.js';
import { repoRoot, tracedWorkflowBundlePath, workflowBundlePath } from '../config/paths.js';

const workflowsPath = join(repoRoot, 'dist', 'workflows', 'index.js');
// Names a workflow's failure in the SDK's "Workflow failed" line (see workflows/log-attributes.ts).
const logAttributes = join(repoRoot, 'dist', 'workflows', 'log-attributes.js');
const tracingInterceptors = join(repoRoot, 'dist', 'workflows', 'tracing-interceptors.js');

for (const [path, workflowInterceptorModules] of [[workflowBundlePath, [logAttributes]], [tracedWorkflowBundlePath, [logAttributes, tracingInterceptors]]] as const) {
  const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [...workflowInterceptorModules], logger: undefined });
  await writeFile(path, code);
  componentLog('build').info({ path, kib: Math.round(code.length / 1024) }, 'workflow bundle written');
}
