// `docker exec` through the Docker API, with stdin when given, output capped per stream while it is
// read (the rest is drained and dropped, or, with stopAtLimit, not read at all), and the exit code from
// the exec's inspect.
import { Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { inExecSpan } from './exec-span.js';

export interface ExecOptions {
  cmd: string[];
  user?: string;
  env?: string[];
  workingDir?: string;
  stdin?: Buffer;
  limitBytes: number;
  /**
   * Past limitBytes of stdout, stop reading and close the exec's stream instead of draining it: for output
   * whose excess is unbounded (a tar of sparse files), so no more of it crosses Docker than the limit.
   */
  stopAtLimit?: boolean;
  /** Give up waiting after this long (the command itself is expected to enforce its own timeout). */
  waitMs?: number;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  exitCode: number;
  /** True when the output did not end within waitMs. */
  abandoned: boolean;
}

class CappedSink extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly limit: number, private readonly onOver?: () => void) { super(); }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const room = this.limit - this.size;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(part);
      this.size += part.length;
    }
    if (chunk.length > room) {
      this.truncated = true;
      this.onOver?.();
    }
    done();
  }

  get bytes(): Buffer { return Buffer.concat(this.chunks); }
}

export function dockerExec(container: Docker.Container, o: ExecOptions): Promise<ExecResult> {
  return inExecSpan({ runtime: 'terminal', request: 'docker_exec' }, async (span) => {
    span.container(container.id);
    const r = await execIn(container, o);
    span.exitCode(r.exitCode);
    return r;
  });
}

async function execIn(container: Docker.Container, o: ExecOptions): Promise<ExecResult> {
  const exec = await container.exec({
    Cmd: o.cmd,
    User: o.user,
    Env: o.env,
    WorkingDir: o.workingDir,
    AttachStdin: o.stdin !== undefined,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
  });
  const stream = (await exec.start({ hijack: true, stdin: o.stdin !== undefined })) as unknown as Duplex;
  // Closing the stream ends the command too: its stdout pipe is gone, its next write fails.
  const out = new CappedSink(o.limitBytes, o.stopAtLimit ? () => stream.destroy() : undefined);
  const err = new CappedSink(o.limitBytes);
  container.modem.demuxStream(stream, out, err);
  // Some exec streams never emit 'end'; 'close' is the other sign that the process is done.
  const finished = new Promise<boolean>((resolve) => {
    stream.once('end', () => resolve(true));
    stream.once('close', () => resolve(true));
    stream.once('error', () => resolve(true));
  });
  if (o.stdin !== undefined) stream.end(o.stdin);
  let timer: NodeJS.Timeout | undefined;
  const done = o.waitMs === undefined
    ? await finished
    : await Promise.race([finished, new Promise<boolean>((r) => { timer = setTimeout(() => r(false), o.waitMs); })]);
  clearTimeout(timer);
  if (!done) stream.destroy();
  let info = done ? await exec.inspect() : undefined;
  // The stream can close a moment before Docker records the exit code.
  for (let i = 0; info?.Running && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 10));
    info = await exec.inspect();
  }
  return {
    stdout: out.bytes,
    stderr: err.bytes,
    stdoutTruncated: out.truncated,
    stderrTruncated: err.truncated,
    exitCode: info?.ExitCode ?? -1,
    abandoned: !done,
  };
}
