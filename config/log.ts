// Every process's log: one JSON line per event on stdout (level, time, msg, the component and what is
// known: request, task or workflow, account, worker). Keys that carry secrets are redacted whatever
// logs them; the code never logs them in the first place, this is the second line of defence.
import pino, { type Logger } from 'pino';
import { ConfigError, loadLogSettings, type LogLevel } from './index.js';

export type { Logger };

/** Field names whose values are secrets, wherever they appear in a line (up to two levels down). */
export const SECRET_KEYS = [
  'authorization', 'cookie', 'set-cookie', 'password', 'token', 'secret', 'worker_secret', 'workerSecret',
  'hashKey', 'hash_key', 'payloadKey', 'payloadKeys', 'payload_key', 'payload_keys', 'start_command', 'taskToken', 'task_token',
  'DURABOX_WORKER_SECRET', 'DURABOX_HASH_KEY', 'DURABOX_PAYLOAD_KEY', 'DURABOX_PAYLOAD_OLD_KEYS', 'DURABOX_ADMIN_PASSWORD',
];

const REDACTED_PATHS = SECRET_KEYS.flatMap((k) => {
  const key = /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `["${k}"]`;
  return [key.startsWith('.') ? k : key, `*${key}`, `*.*${key}`];
});

/** Where lines go; stdout unless the test platform keeps them. */
export type LineSink = (line: string) => void;

let sinks: LineSink[] = [(line) => process.stdout.write(line)];

/** A logger writing JSON lines to `write`: the process's own, or a test's. */
export function createLogger(level: LogLevel, write: LineSink): Logger {
  return pino({
    level,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  }, { write });
}

function levelOfEnvironment(): { level: LogLevel; problem?: string } {
  try {
    return { level: loadLogSettings().level };
  } catch (e) {
    if (e instanceof ConfigError) return { level: 'info', problem: e.message };
    throw e;
  }
}

const setting = levelOfEnvironment();

/** The process's root logger; components log through `componentLog`. */
export const rootLog: Logger = createLogger(setting.level, (line) => { for (const s of sinks) s(line); });

// A setting out of range stops the process at start with a message naming the variable.
if (setting.problem) {
  rootLog.fatal(setting.problem);
  process.exit(1);
}

/** The logger of one part of a process (`api`, `control-worker`, `worker`, `gateway`, `start`), with what it always knows. */
export function componentLog(component: string, bindings: Record<string, unknown> = {}): Logger {
  return rootLog.child({ component, ...bindings });
}

/** Sends this process's lines to `sink` instead of stdout (the test platform keeps the in-process API's lines). */
export function sendLogLinesTo(sink: LineSink): void {
  sinks = [sink];
}

/** A failure as log fields: an Error with its stack under `err`, anything else as text. */
export function errorFields(e: unknown): Record<string, unknown> {
  return e instanceof Error ? { err: e } : { err: String(e) };
}
