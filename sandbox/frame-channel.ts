// Length-prefixed JSON frames over a container's attached stdin/stdout: how a worker talks to the
// keeper of a python sandbox, to the agent of a terminal session and to the egress proxy without a
// `docker exec` per call. What each frame holds is in frames.ts.
import { PassThrough, type Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type Docker from 'dockerode';
import { componentLog, type Logger } from '../config/log.js';
import type { AnyFrame, HostFrame, OutputChunk, Received } from './frames.js';

export type { OutputChunk } from './frames.js';
/** Where a request's output goes while it runs (the chunk frames before its answer). */
export type OnChunk = (chunk: OutputChunk) => void;

/** The container's process is gone, or the attachment broke. */
export class ChannelClosed extends Error {}

/** The container wrote something that is not a frame of the protocol: the container is ended for it. */
export class BadFrame extends ChannelClosed {}

/**
 * The largest frame a container may send. The biggest honest one is a result whose output streams are
 * capped at DURABOX_OUTPUT_LIMIT_BYTES each plus its rich results (plots): well under this.
 */
export const MAX_FRAME_BYTES = 32 * 1024 * 1024;
/** Most bytes of frames received and not yet taken (nothing asked for them): a flood ends the container. */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** What a container's stderr may put in the worker's log over its life (bytes, lines); the rest is dropped. */
export const MAX_STDERR_LOG_BYTES = 64 * 1024;
export const MAX_STDERR_LOG_LINES = 100;
/** The longest line of a container's stderr the log keeps (characters); the rest of a longer one is dropped. */
export const MAX_STDERR_LINE_CHARS = 1000;

/** One line of a stream, as the log keeps it. */
export interface CutLine { text: string; cut: boolean }

/**
 * Cuts a stream's bytes into lines, whatever the blocks they arrive in: each line one piece (a traceback
 * is as many log lines as it has lines, never one block of several nor a line in halves), at most
 * `maxChars` of it, its end-of-line dropped. What is held between blocks is at most one line's `maxChars`.
 */
export class LineCutter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  /** The line being read was already given, cut: the rest of it, up to its newline, is dropped. */
  private skipping = false;

  constructor(private readonly maxChars: number) {}

  /** The lines `chunk` ends, or cuts for being too long. */
  push(chunk: Buffer): CutLine[] {
    const parts = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = parts.pop()!;
    const lines: CutLine[] = [];
    for (const part of parts) {
      if (this.skipping) this.skipping = false;
      else this.give(part, lines);
    }
    if (this.skipping) this.partial = '';
    else if (this.partial.length > this.maxChars) {
      this.give(this.partial, lines);
      this.partial = '';
      this.skipping = true;
    }
    return lines;
  }

  /** The last line, when the stream ends without a newline. */
  end(): CutLine[] {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    const lines: CutLine[] = [];
    if (!this.skipping) this.give(rest, lines);
    return lines;
  }

  private give(line: string, into: CutLine[]): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.trim() === '') return; // blank lines say nothing in a log
    into.push(text.length > this.maxChars ? { text: text.slice(0, this.maxChars), cut: true } : { text, cut: false });
  }
}

export class FrameChannel {
  /** Received bytes not yet cut into frames, as they came (joined only once a whole frame is there). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private waiters: Array<{ resolve: (f: AnyFrame) => void; reject: (e: Error) => void }> = [];
  private frames: Array<{ frame: AnyFrame; bytes: number }> = [];
  private queuedBytes = 0;
  private stderrLogged = 0;
  private stderrLines = 0;
  private readonly stderrCutter = new LineCutter(MAX_STDERR_LINE_CHARS);
  private failure: Error | undefined;
  closed = false;

  private constructor(readonly container: Docker.Container, private readonly stream: Duplex, private readonly label: string) {
    const out = new PassThrough();
    const err = new PassThrough();
    container.modem.demuxStream(stream, out, err);
    out.on('data', (chunk: Buffer) => {
      try {
        this.onData(chunk);
      } catch (e) {
        this.hostile(e instanceof BadFrame ? e : new BadFrame(`${label} container sent a bad frame: ${(e as Error).message}`));
      }
    });
    err.on('data', (chunk: Buffer) => this.onStderr(chunk));
    const gone = () => {
      this.logStderr(this.stderrCutter.end());
      this.fail(new ChannelClosed(`${label} container exited`));
    };
    stream.on('end', gone);
    stream.on('close', gone);
    stream.on('error', gone);
  }

  /** Attaches to the container's stdio; attach before start to see the first frame. */
  static async attach(container: Docker.Container, label: string): Promise<FrameChannel> {
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    return new FrameChannel(container, stream, label);
  }

  /** This container's lines in the worker's log, made when it first has something to say. */
  private logger?: Logger;
  private get log(): Logger {
    return (this.logger ??= componentLog('worker', { container_id: this.container.id.slice(0, 12), program: this.label }));
  }

  /**
   * Cuts whole frames out of what came: a 4-byte big-endian length, then that many bytes of JSON that
   * must be an object. Anything else (a length over MAX_FRAME_BYTES, bytes that are not JSON, JSON that
   * is not an object) throws BadFrame; nothing a container writes may throw anywhere else.
   */
  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    while (this.pendingBytes >= 4) {
      const head = this.pending[0].length >= 4 ? this.pending[0] : this.joinPending();
      const n = head.readUInt32BE(0);
      if (n > MAX_FRAME_BYTES) throw new BadFrame(`${this.label} container sent a frame of ${n} bytes (the most is ${MAX_FRAME_BYTES})`);
      if (this.pendingBytes < 4 + n) return;
      const all = this.joinPending();
      const frame = parseFrame(all.subarray(4, 4 + n));
      const rest = all.subarray(4 + n);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
      this.deliver(frame, n);
    }
  }

  private joinPending(): Buffer {
    if (this.pending.length > 1) this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    return this.pending[0];
  }

  private deliver(frame: AnyFrame, bytes: number): void {
    const w = this.waiters.shift();
    if (w) return w.resolve(frame);
    this.queuedBytes += bytes;
    if (this.queuedBytes > MAX_QUEUED_BYTES) throw new BadFrame(`${this.label} container sent over ${MAX_QUEUED_BYTES} bytes of frames nobody asked for`);
    this.frames.push({ frame, bytes });
  }

  /**
   * A container's stderr goes to the worker's log a line at a time (one JSON line each, naming the
   * container), bounded over the container's life.
   */
  private onStderr(chunk: Buffer): void {
    if (this.stderrLines >= MAX_STDERR_LOG_LINES) return;
    this.logStderr(this.stderrCutter.push(chunk));
  }

  private logStderr(lines: CutLine[]): void {
    for (const line of lines) {
      if (this.stderrLines >= MAX_STDERR_LOG_LINES) return;
      const room = MAX_STDERR_LOG_BYTES - this.stderrLogged;
      const bytes = Buffer.from(line.text);
      const text = bytes.length > room ? bytes.subarray(0, room).toString('utf8') : line.text;
      this.stderrLines++;
      this.stderrLogged += Math.min(bytes.length, room);
      this.log.warn({ stderr: text, ...(line.cut || text !== line.text ? { cut: true } : {}) }, `${this.label} container wrote to stderr`);
      if (this.stderrLogged >= MAX_STDERR_LOG_BYTES || this.stderrLines === MAX_STDERR_LOG_LINES) {
        this.stderrLines = MAX_STDERR_LOG_LINES;
        this.log.warn({ most_bytes: MAX_STDERR_LOG_BYTES, most_lines: MAX_STDERR_LOG_LINES }, `${this.label} container's stderr is past what the log keeps of it; the rest is dropped`);
      }
    }
  }

  /** The container broke the protocol: it is ended (with its channel), and the worker says so. */
  private hostile(e: BadFrame): void {
    if (this.closed) return;
    this.log.warn({ err: e.message }, `${this.label} container broke the frame protocol: ending it`);
    this.fail(e);
    this.pending = [];
    this.frames = [];
    this.stream.destroy();
    this.container.kill().catch(() => undefined);
  }

  private fail(e: Error): void {
    this.closed = true;
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /** The next frame, named as the caller expects it (`T`), its values not yet checked. */
  next<T = AnyFrame>(): Promise<Received<T>> {
    return this.nextFrame() as Promise<Received<T>>;
  }

  private nextFrame(): Promise<AnyFrame> {
    const f = this.frames.shift();
    if (f) {
      this.queuedBytes -= f.bytes;
      return Promise.resolve(f.frame);
    }
    if (this.closed) return Promise.reject(this.failure instanceof BadFrame ? this.failure : new ChannelClosed('channel closed'));
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * The frame answering request `id` (or, with no id, the next answer); output chunks sent before it go
   * to `onChunk`, and frames of abandoned earlier requests are skipped.
   */
  async reply<T = AnyFrame>(id: string | undefined, onChunk?: OnChunk): Promise<Received<T>> {
    for (;;) {
      const f = await this.nextFrame();
      if (f.id !== id) continue;
      if (f.chunk) {
        const c = f.chunk as OutputChunk;
        if ((c.stream === 'stdout' || c.stream === 'stderr') && typeof c.text === 'string') onChunk?.(c);
        continue;
      }
      return f as Received<T>;
    }
  }

  send(frame: HostFrame): void {
    if (this.closed) return;
    const body = Buffer.from(JSON.stringify(frame), 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    this.stream.write(Buffer.concat([head, body]));
  }

  /** Detaches; the container's process sees its stdin close only when StdinOnce is set. */
  close(): void {
    this.closed = true;
    this.stream.destroy();
  }
}

/** One frame's body: JSON, and an object (every frame of the protocol is one). */
function parseFrame(body: Buffer): AnyFrame {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new BadFrame(`a frame that is not JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadFrame('a frame that is not a JSON object');
  return v as AnyFrame;
}
