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

/** The capability a client named, matched without regard to case as the reference does (`pythonexec`). */
export function capabilityNamed(name: string): Capability | undefined {
  const wanted = name.trim().toLowerCase();
  return CAPABILITIES.find((c) => c.toLowerCase() === wanted);
}
