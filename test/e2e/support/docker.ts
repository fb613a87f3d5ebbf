// Looking at the sandboxes themselves, as an operator would with `docker ps` and `docker top`.
import { platform } from './hooks.js';
import { keyedHash } from '../../../control/security.js';
import { HASH_KEY } from '../../../harness/platform.js';
import { LABEL_RUNTIME, LABEL_WORKER } from '../../../sandbox/profile.js';
import { bridgeAddress as hostBridgeAddress } from '../../../sandbox/egress.js';

/** The session's container id, found as an operator would: the workflow's memo names it (none while paused). */
export async function sessionContainerId(token: string, sessionId: string): Promise<string | undefined> {
  const account = (await platform.api.deps.accounts.byTokenHash(keyedHash(HASH_KEY, token)))!;
  const d = await platform.api.deps.client.workflow.getHandle(platform.api.deps.sessions.workflowId(account.id, sessionId)).describe();
  return (d.memo as { container_id?: string | null } | undefined)?.container_id ?? undefined;
}

/** The session's container, inspected; undefined when it has none or it is gone. */
export async function sessionContainer(token: string, sessionId: string) {
  const id = await sessionContainerId(token, sessionId);
  return id ? platform.docker.getContainer(id).inspect().catch(() => undefined) : undefined;
}

/** Python sandboxes of a worker that run anything besides their keeper and its idle interpreter (user code still alive), with what runs. */
export async function containersRunningUserCode(workerId: string): Promise<string[]> {
  const list = await platform.docker.listContainers({ filters: { label: [`${LABEL_WORKER}=${workerId}`, `${LABEL_RUNTIME}=python`] } });
  const busy: string[] = [];
  for (const c of list) {
    // A container gone between list and top runs nothing.
    const top = await platform.docker.getContainer(c.Id).top({ ps_args: '-o pid,wchan:32,args' }).catch(() => undefined);
    const procs: Array<{ wchan: string; args: string }> = (top?.Processes ?? []).map((p: string[]) => ({ wchan: p[1], args: p[2] }));
    // An idle sandbox holds its keeper (PID 1) and the interpreter it started for the next program once
    // the reset had killed everything else, still waiting to read that program from its stdin pipe; a
    // program running, or anything that survived a reset, shows beside or instead of it.
    const waiting = (p: { wchan: string; args: string }) => p.args === 'python3 -' && /pipe_read|pipe_wait/.test(p.wchan);
    const idle = procs.length <= 1 || (procs.length === 2 && procs.filter(waiting).length === 1);
    if (!idle) busy.push(`${c.Id.slice(0, 12)}: ${procs.map((p) => `${p.args} (${p.wchan})`).join(' | ')}`);
  }
  return busy;
}

export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined | false;
  while (Date.now() < until) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** This machine's Docker bridge address (the product's own reading of it); a test needs one. */
export function bridgeAddress(): string {
  const address = hostBridgeAddress();
  if (!address) throw new Error('no docker0 interface with an IPv4 address: is dockerd running with its default bridge?');
  return address;
}
