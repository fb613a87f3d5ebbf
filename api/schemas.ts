// One zod schema per input: it validates REST bodies and MCP arguments, types the handlers, and becomes
// the JSON Schema of the OpenAPI document and of the MCP tool listing, so the three never disagree.
import { z } from 'zod';
import { badRequest } from './errors.js';

const timeoutMs = (max: number, dflt: number) =>
  z.int().min(1).max(max).default(dflt).describe(`Wall-clock limit in milliseconds (1..${max}, default ${dflt}).`);

const nonBlank = (what: string) => z.string().refine((s) => s.trim().length > 0, { message: `${what} must not be blank` });

export const pythonExecInput = {
  code: z.string().min(1).max(1_000_000).describe('Python 3 source to run as a script; its stdout and stderr are returned.'),
  timeout_ms: timeoutMs(600_000, 60_000),
};
export const echoInput = {
  message: nonBlank('message').pipe(z.string().max(65_536)).describe('Text to send through a worker and back.'),
  timeout_ms: timeoutMs(60_000, 5_000),
};

export const PythonExecInput = z.object(pythonExecInput);
export const EchoInput = z.object(echoInput);

export const pythonExecOutput = {
  output: z.string().describe('stdout of the program'),
  stderr: z.string(),
  exit_code: z.int().describe('exit status; non-zero is a normal result'),
  stdout_truncated: z.boolean(),
  stderr_truncated: z.boolean(),
};
export const echoOutput = { message: z.string() };

export const TaskCreateBody = z.object({
  capability: z.string().min(1).describe('pythonExec or echo'),
  input: z.record(z.string(), z.unknown()).default({}).describe('The capability\'s input (JSON object).'),
  mode: z.enum(['sync', 'async', 'auto']).default('auto'),
  wait_ms: z.int().min(1).max(60_000).default(1500).describe('auto mode: how long to wait before answering 202'),
  timeout_ms: timeoutMs(600_000, 60_000),
  request_id: z.string().min(1).max(128).optional().describe('Idempotency key, per account: the same key gives the same task.'),
});

export const LoginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) });
export const TokenCreateBody = z.object({
  name: nonBlank('name').pipe(z.string().max(64)),
  token: z
    .string()
    .refine((s) => s.trim().length > 0, { message: 'token must not be blank' })
    .refine((s) => s === s.trim(), { message: 'token must not start or end with whitespace' })
    .pipe(z.string().max(256))
    .optional(),
});

export const TaskListQuery = z.object({
  status: z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled', 'timeout']).optional(),
  capability: z.string().max(64).optional(),
  page: z.coerce.number().pipe(z.int().min(1)).default(1),
  page_size: z.coerce.number().pipe(z.int().min(1).max(100)).default(20),
});

/** Parses `value` or throws a 400 that names the field at fault. */
export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, what = 'request body'): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw badRequest(`invalid ${what}: ${describeIssues(r.error)}`);
}

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const field = i.path.length ? i.path.join('.') : '(body)';
      return `${field}: ${i.message}`;
    })
    .join('; ');
}

/** The input schema of a capability, for POST /tasks. */
export function inputSchemaOf(capability: 'pythonExec' | 'echo'): z.ZodType {
  return capability === 'pythonExec' ? PythonExecInput : EchoInput;
}
