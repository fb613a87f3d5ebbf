// Containers the bench itself starts (baselines) carry a label with the run's tag, so cleanup finds
// them even after a crash halfway through a figure.
import type Docker from 'dockerode';

export const BENCH_LABEL = 'io.durabox.bench';

export async function removeBenchContainers(docker: Docker, runTag: string): Promise<number> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${BENCH_LABEL}=${runTag}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  return list.length;
}
