// Containers a worker left behind (a crash, a kill -9), found by the worker label every sandbox carries.
import type Docker from 'dockerode';
import { LABEL_WORKER } from './profile.js';

/**
 * Removes this worker's containers except those `keep` names: at start and at shutdown. The containers
 * of sessions whose workflows still run on this host stay, so a restarted worker picks its sessions up
 * again; python sandboxes and warm containers never stay. Answers how many were removed and which
 * running ones were kept.
 */
export async function removeLeftovers(
  docker: Docker,
  workerId: string,
  keep: () => Promise<Set<string>> = async () => new Set(),
): Promise<{ removed: number; kept: string[] }> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_WORKER}=${workerId}`] } });
  if (list.length === 0) return { removed: 0, kept: [] };
  const live = await keep();
  let removed = 0;
  const kept: string[] = [];
  for (const c of list) {
    if (c.State === 'running' && live.has(c.Id)) {
      kept.push(c.Id);
      continue;
    }
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    removed++;
  }
  return { removed, kept };
}
