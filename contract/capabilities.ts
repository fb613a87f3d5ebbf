// What a task can do, and which runtime's workers serve it.
export const CAPABILITIES = ['pythonExec', 'echo', 'terminalExec', 'runCode'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** Which runtime's workers serve a capability. Echo is a round trip through a python host. */
export const CAPABILITY_RUNTIME: Record<Capability, string> = {
  pythonExec: 'python',
  echo: 'python',
  terminalExec: 'terminal',
  // One-shot runs take a warm python sandbox (it carries the JavaScript and bash interpreters too).
  runCode: 'python',
};

/** The runtime a task's work needs: runCode in a session runs in that session's terminal container. */
export function runtimeFor(capability: Capability, input: unknown): string {
  if (capability === 'runCode' && typeof (input as { session_id?: unknown } | null)?.session_id === 'string') return 'terminal';
  return CAPABILITY_RUNTIME[capability];
}

export function isCapability(name: string): name is Capability {
  return (CAPABILITIES as readonly string[]).includes(name);
}

/** The capability a client named, matched without regard to case as the reference does (`pythonexec`). */
export function capabilityNamed(name: string): Capability | undefined {
  const wanted = name.trim().toLowerCase();
  return CAPABILITIES.find((c) => c.toLowerCase() === wanted);
}
