// Containers a worker left behind (a crash, a kill -9), found by the worker label every sandbox carries.
import type Docker from 'dockerode';
import { LABEL_WORKER } from './profile.js';

/**
 * Removes containers this worker left behind (a crash, a kill -9): at start and at shutdown. The
 * containers of sessions whose workflows still run on this host (`keep` lists them) stay, so a
 * restarted worker picks its sessions up again; python sandboxes and warm containers never stay.
 */
export async function removeLeftovers(docker: Docker, workerId: string, keep: () => Promise<Set<string>> = async () => new Set()): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
  if (list.length === 0) return 0;
  const live = await keep();
  let removed = 0;
  for (const c of list) {
    if (c.State === 'running' && live.has(c.Id)) continue;
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    removed++;
  }
  return removed;
}
