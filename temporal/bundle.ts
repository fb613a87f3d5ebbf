// Builds the workflow bundles once (`npm run build`) so workers start without bundling: the plain one,
// and one with the OpenTelemetry workflow interceptors (workflows/tracing-interceptors.ts), which a
// control worker with tracing loads: a bundle's interceptors are fixed when it is built, and the plain
// path should not pay for spans.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot, tracedWorkflowBundlePath, workflowBundlePath } from '../config/paths.js';

const workflowsPath = join(repoRoot, 'dist', 'workflows', 'index.js');
const tracingInterceptors = join(repoRoot, 'dist', 'workflows', 'tracing-interceptors.js');

for (const [path, workflowInterceptorModules] of [[workflowBundlePath, []], [tracedWorkflowBundlePath, [tracingInterceptors]]] as const) {
  const { code } = await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: [...workflowInterceptorModules], logger: undefined });
  await writeFile(path, code);
  console.log(`workflow bundle: ${path} (${(code.length / 1024).toFixed(0)} KiB)`);
}
