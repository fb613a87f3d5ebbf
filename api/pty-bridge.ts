// The interactive terminal's WebSocket (GET /api/v1/sessions/:id/pty, docs/workbench/terminal.md) joined
// to its stream through the tunnel, whose frames the session agent speaks (sandbox/inside/session-relay.py, Viewer).
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';

// The frames of the terminal's stream, each way.
const FRAME_INPUT = 0, FRAME_RESIZE = 1, FRAME_SIGNAL = 2;
const FRAME_OUTPUT = 0, FRAME_EXIT = 1;

function frame(kind: number, body: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt8(kind, 0);
  h.writeUInt32BE(body.length, 1);
  return Buffer.concat([h, body]);
}

const SIGNALS = new Set(['INT', 'TERM', 'KILL', 'HUP', 'QUIT']);

/**
 * One viewer's WebSocket joined to the session's terminal. Binary messages are keystrokes; text messages
 * are JSON: {type: input, data} | {type: resize, cols, rows} | {type: signal, signal}. Output goes back as
 * binary messages; the shell's end as {type: exit, code}, then the socket closes.
 */
export function bridgePty(ws: WebSocket, upstream: Socket, used: (now?: boolean) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  upstream.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 5) {
      const n = buf.readUInt32BE(1);
      if (buf.length < 5 + n) break;
      const kind = buf.readUInt8(0);
      const body = buf.subarray(5, 5 + n);
      buf = buf.subarray(5 + n);
      if (kind === FRAME_OUTPUT) ws.send(body, { binary: true });
      else if (kind === FRAME_EXIT) {
        ws.send(JSON.stringify({ type: 'exit', code: Number(body.toString('ascii')) }));
        ws.close(1000, 'the shell ended');
      }
    }
  });
  upstream.resume();
  upstream.on('error', () => undefined);
  upstream.on('close', () => { if (ws.readyState === ws.OPEN) ws.close(1011, 'the session\'s terminal went away'); });
  // What is typed may change the workspace: the session hears of it while typing goes on and when the viewer leaves.
  ws.on('close', () => { upstream.destroy(); used(true); });
  ws.on('error', () => upstream.destroy());
  ws.on('message', (data: RawData, isBinary: boolean) => {
    used();
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (isBinary) return void upstream.write(frame(FRAME_INPUT, bytes));
    let m: { type?: unknown; data?: unknown; cols?: unknown; rows?: unknown; signal?: unknown };
    try {
      m = JSON.parse(bytes.toString('utf8')) as typeof m;
    } catch {
      return void ws.send(JSON.stringify({ type: 'error', error: 'invalid_input', message: 'a text message is JSON: {"type":"input"|"resize"|"signal", …}; keystrokes may also go as binary messages' }));
    }
    if (m.type === 'input' && typeof m.data === 'string') upstream.write(frame(FRAME_INPUT, Buffer.from(m.data, 'utf8')));
    else if (m.type === 'resize' && Number.isInteger(m.cols) && Number.isInteger(m.rows) && (m.cols as number) >= 1 && (m.rows as number) >= 1 && (m.cols as number) <= 1000 && (m.rows as number) <= 1000) {
      upstream.write(frame(FRAME_RESIZE, Buffer.from(`${m.cols as number} ${m.rows as number}`)));
    } else if (m.type === 'signal' && typeof m.signal === 'string' && SIGNALS.has(m.signal)) upstream.write(frame(FRAME_SIGNAL, Buffer.from(m.signal)));
    else ws.send(JSON.stringify({ type: 'error', error: 'invalid_input', message: 'type: one of input {data}, resize {cols, rows 1-1000}, signal {signal: INT|TERM|KILL|HUP|QUIT}' }));
  });
}
