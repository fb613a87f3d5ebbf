// The one header line each stream of the tunnel starts with (JSON), read before the bytes it opens.
import type { Socket } from 'node:net';

export class LineTimeout extends Error {}

/**
 * Reads a socket up to `delimiter` (answered without it), at most `maxBytes` and within `timeoutMs`; what
 * came after it goes back into the socket, so the stream that follows starts whole.
 */
export function readUntil(socket: Socket, delimiter: string, maxBytes: number, timeoutMs: number, what = 'a header line'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err?: Error, head?: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(head!);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const at = buf.indexOf(delimiter);
      if (at < 0 || at > maxBytes) {
        if (buf.length > maxBytes) done(new Error(`${what} longer than ${maxBytes} bytes`));
        return;
      }
      const rest = buf.subarray(at + delimiter.length);
      // Paused and unhooked first: an unshift into a flowing stream would come straight back here.
      done(undefined, buf.subarray(0, at));
      if (rest.length > 0) socket.unshift(rest);
    };
    const onEnd = (e?: unknown) => done(e instanceof Error ? e : new Error(`the stream ended before ${what}`));
    const timer = setTimeout(() => done(new LineTimeout(`${what} did not come within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/** One line (without its newline), as UTF-8: the JSON header of each stream of the tunnel. */
export async function readLine(socket: Socket, maxBytes: number, timeoutMs: number): Promise<string> {
  return (await readUntil(socket, '\n', maxBytes, timeoutMs)).toString('utf8');
}

/** Joins two sockets both ways until both ends are done; either failing ends both. */
export function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => { a.destroy(); b.destroy(); };
  a.once('error', end);
  b.once('error', end);
  a.once('close', () => b.end());
  b.once('close', () => a.end());
}
