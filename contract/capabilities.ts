// What a task can do, and which runtime's workers serve it.
export const CAPABILITIES = ['pythonExec', 'echo', 'terminalExec'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Which runtime's workers serve a capability. Echo is a round trip through a python host. */
export const CAPABILITY_RUNTIME: Record<Capability, string> = {
  pythonExec: 'python',
  echo: 'python',
  terminalExec: 'terminal',
};

export function isCapability(name: string): name is Capability {
  return (CAPABILITIES as readonly string[]).includes(name);
}
