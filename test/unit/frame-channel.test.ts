// The frame channel's parsing of what a container writes, over a stream in Docker's multiplexed format:
// honest frames in any cut, and every way of breaking the protocol ending that container's channel with
// BadFrame (and a kill of the container), never an exception out of a stream handler.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import {
  BadFrame, FrameChannel, LineCutter, MAX_FRAME_BYTES, MAX_QUEUED_BYTES, MAX_STDERR_LINE_CHARS, MAX_STDERR_LOG_BYTES, MAX_STDERR_LOG_LINES,
} from '../../sandbox/frame-channel.js';
import { sendLogLinesTo } from '../../config/log.js';

/** Docker's multiplexed stream: an 8-byte header (stream 1 stdout / 2 stderr, length) per block. */
function mux(stream: 1 | 2, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}
const frame = (obj: unknown) => {
  const body = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
};

async function fakeChannel() {
  const wire = new PassThrough();
  const state = { killed: 0 };
  const container = {
    id: 'f'.repeat(64),
    modem: new Docker().modem,
    attach: async () => wire,
    kill: async () => { state.killed++; },
  } as unknown as Docker.Container;
  const channel = await FrameChannel.attach(container, 'test');
  return { channel, state, write: (b: Buffer, stream: 1 | 2 = 1) => wire.write(mux(stream, b)) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('frame channel', () => {
  it('reads frames cut anywhere, several in one block, in order', async () => {
    const { channel, write } = await fakeChannel();
    const bytes = Buffer.concat([frame({ a: 1 }), frame({ b: 'x'.repeat(100_000) }), frame({ c: 3 })]);
    for (let i = 0; i < bytes.length; i += 7777) write(bytes.subarray(i, i + 7777));
    assert.deepEqual(await channel.next(), { a: 1 });
    assert.equal(((await channel.next()).b as string).length, 100_000);
    assert.deepEqual(await channel.next(), { c: 3 });
  });

  for (const [what, bytes] of [
    ['a body that is not JSON', Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('{bad!')])],
    ['JSON that is not an object', frame(null)],
    ['an array', frame([1, 2])],
    ['a length over the most', Buffer.from([0xff, 0xff, 0xff, 0xff])],
  ] as const) {
    it(`${what}: BadFrame to the waiting request, the container killed, nothing thrown`, async () => {
      const { channel, state, write } = await fakeChannel();
      const waiting = channel.next();
      write(bytes);
      await assert.rejects(waiting, BadFrame);
      assert.equal(state.killed, 1);
      assert.equal(channel.closed, true);
      await assert.rejects(channel.next(), BadFrame);
      channel.send({ ping: true }); // a send on an ended channel is a no-op, not a write after destroy
    });
  }

  it('frames nobody asked for are bounded', async () => {
    const { channel, state, write } = await fakeChannel();
    const big = frame({ pad: 'y'.repeat(MAX_FRAME_BYTES - 100) });
    for (let sent = 0; sent <= MAX_QUEUED_BYTES; sent += big.length) write(big);
    await tick();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(state.killed, 1);
    await assert.rejects(channel.next(), BadFrame);
  });

  it('stderr goes to the log, bounded in bytes and lines, and does not disturb the frames', async () => {
    const lines: Array<{ stderr?: string; msg: string }> = [];
    sendLogLinesTo((line) => lines.push(JSON.parse(line)));
    try {
      for (const [size, count] of [[10_000, 200], [2, 1000]]) {
        const { channel, state, write } = await fakeChannel();
        lines.length = 0;
        for (let i = 0; i < count; i++) write(Buffer.from(`${'a'.repeat(size - 1)}\n`), 2);
        write(frame({ ok: true }));
        assert.deepEqual(await channel.next(), { ok: true });
        assert.equal(state.killed, 0);
        const kept = lines.filter((l) => l.stderr !== undefined);
        assert.ok(kept.length > 0 && kept.length <= MAX_STDERR_LOG_LINES, `${kept.length} lines`);
        assert.ok(kept.reduce((n, l) => n + l.stderr!.length, 0) <= MAX_STDERR_LOG_BYTES);
        assert.equal(lines.filter((l) => /past what the log keeps/.test(l.msg)).length, 1);
      }
    } finally {
      sendLogLinesTo((line) => process.stdout.write(line));
    }
  });

  it("a container's stderr is one JSON log line per line it wrote, however it arrived, naming the container", async () => {
    const lines: Array<Record<string, unknown>> = [];
    sendLogLinesTo((line) => lines.push(JSON.parse(line)));
    try {
      const { channel, write } = await fakeChannel();
      const traceback = 'Traceback (most recent call last):\n  File "<string>", line 1, in <module>\nBlockingIOError: [Errno 11] Resource temporarily unavailable\n';
      // in two blocks cut mid-line, the last line ending only when the container does
      write(Buffer.from(traceback.slice(0, 40)), 2);
      write(Buffer.from(`${traceback.slice(40)}exiting`), 2);
      write(frame({ ok: true }));
      assert.deepEqual(await channel.next(), { ok: true });
      channel.close();
      await tick();
      const said = lines.filter((l) => l.stderr !== undefined);
      assert.deepEqual(said.map((l) => l.stderr), [...traceback.trimEnd().split('\n'), 'exiting']);
      for (const l of said) {
        assert.equal(l.level, 'warn');
        assert.equal(l.container_id, 'f'.repeat(12));
        assert.equal(l.program, 'test');
        assert.equal(l.msg, 'test container wrote to stderr');
      }
    } finally {
      sendLogLinesTo((line) => process.stdout.write(line));
    }
  });

  it('cuts bytes into lines: across blocks and UTF-8 sequences, CRLF and blank lines, a long line cut and the rest of it dropped', () => {
    const c = new LineCutter(10);
    const e = Buffer.from('é');
    assert.deepEqual(c.push(Buffer.concat([Buffer.from('ab'), e.subarray(0, 1)])), []);
    assert.deepEqual(c.push(Buffer.concat([e.subarray(1), Buffer.from('\r\n\n  \nx\ny')])), [{ text: 'abé', cut: false }, { text: 'x', cut: false }]);
    assert.deepEqual(c.push(Buffer.from('0123456789ABC')), [{ text: 'y012345678', cut: true }]);
    assert.deepEqual(c.push(Buffer.from('more of the same line'.repeat(100))), [], 'the rest of a cut line is not held');
    assert.deepEqual(c.push(Buffer.from('DEF\nnext\nlast')), [{ text: 'next', cut: false }]);
    assert.deepEqual(c.end(), [{ text: 'last', cut: false }]);
    assert.deepEqual(c.end(), []);
    assert.equal(MAX_STDERR_LINE_CHARS, 1000);
  });

  it('a chunk frame of the wrong shape is skipped, not passed on', async () => {
    const { channel, write } = await fakeChannel();
    const chunks: unknown[] = [];
    write(Buffer.concat([frame({ id: 'r', chunk: { stream: 'stdin', text: 1 } }), frame({ id: 'r', chunk: { stream: 'stdout', text: 'hi' } }), frame({ id: 'r', done: true })]));
    assert.deepEqual(await channel.reply('r', (c) => chunks.push(c)), { id: 'r', done: true });
    assert.deepEqual(chunks, [{ stream: 'stdout', text: 'hi' }]);
  });
});
