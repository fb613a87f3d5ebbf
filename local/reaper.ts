// `npm start`'s reaper: a process of its own whose stdin is a pipe from `npm start`. However `npm start`
// ends (Ctrl+C, an exception, SIGTERM, kill -9), the kernel closes the pipe; the reaper then removes
// every container and egress network of the local worker, session containers included, and exits.
// Only `npm start` runs it: there one process holds the API, the worker and its sessions, and nothing of
// it outlives that process. A production worker is a process of its own whose session containers stay
// across its restart (sandbox/leftovers.ts); no reaper runs beside it.
//
// Usage: node dist/local/reaper.js <worker id>
import Docker from 'dockerode';
import { LABEL_WORKER } from '../sandbox/profile.js';
import { componentLog } from '../config/log.js';

const log = componentLog('start');
const workerId = process.argv[2];
if (!workerId) {
  log.error('the reaper needs the worker id');
  process.exit(2);
}

// It runs in a session of its own (no terminal signals); a signal sent to it by hand still waits for the
// pipe, so that whoever stops `npm start` does not leave its containers by stopping this first.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
// A closed terminal must not stop the removal half way.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

/** Removes what the worker left that existed when `npm start` ended; a new `npm start`'s own are younger. */
async function reap(endedAt: number): Promise<void> {
  const docker = new Docker();
  const label = { label: [`${LABEL_WORKER}=${workerId}`] };
  const containers = (await docker.listContainers({ all: true, filters: label })).filter((c) => c.Created * 1000 <= endedAt);
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  // Allow-list networks, once their sandboxes and proxy are gone.
  const networks = (await docker.listNetworks({ filters: label })).filter((n) => Date.parse(n.Created) <= endedAt);
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
  if (containers.length + networks.length > 0) {
    log.info({ worker_id: workerId, containers: containers.length, networks: networks.length }, `npm start ended: removed what its worker ${workerId} left`);
  }
}

process.stdin.on('data', () => undefined);
process.stdin.once('close', () => {
  reap(Date.now())
    .catch((e: Error) => log.error({ worker_id: workerId, reason: e.message }, `npm start ended, and its worker's containers could not all be removed: ${e.message}`))
    .finally(() => process.exit(0));
});
