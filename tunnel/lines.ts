// The one header line each stream of the tunnel starts with (JSON), read before the bytes it opens.
import type { Socket } from 'node:net';

export class LineTimeout extends Error {}

/**
 * Reads one line (without the newline) from a socket, at most `maxBytes` and within `timeoutMs`; what came
 * after it goes back into the socket, so the stream that follows starts whole.
 */
export function readLine(socket: Socket, maxBytes: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error, line?: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(line!);
    };
    const onData = (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        chunks.push(chunk);
        size += chunk.length;
        if (size > maxBytes) done(new Error(`a header line longer than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      if (size + nl > maxBytes) return done(new Error(`a header line longer than ${maxBytes} bytes`));
      const rest = chunk.subarray(nl + 1);
      // Paused and unhooked first: an unshift into a flowing stream would come straight back here.
      done(undefined, Buffer.concat(chunks).toString('utf8'));
      if (rest.length > 0) socket.unshift(rest);
    };
    const onEnd = (e?: unknown) => done(e instanceof Error ? e : new Error('the stream ended before its header line'));
    const timer = setTimeout(() => done(new LineTimeout(`no header line within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
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
