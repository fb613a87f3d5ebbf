// For a suite that runs on hosts of its own: the shared worker stops before it, and after it the suite's
// hosts stop and the shared worker comes back for the suites that follow.
import { platform } from './hooks.js';

export function onOwnHosts(names: string[]): void {
  before(async () => { await platform.workers.get('w-main')?.stop(); });
  after(async () => {
    for (const name of names) await platform.workers.get(name)?.stop();
    if (!platform.workers.get('w-main')) await platform.startWorker('w-main');
  });
}
