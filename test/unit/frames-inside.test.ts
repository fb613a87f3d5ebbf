// The containers' end of the frames (sandbox/inside/frames.py), run by this machine's python3 as every
// PID 1 program runs it: frames the worker writes cut anywhere arrive whole and in order, the answers come
// back in the worker's format, an idle stdin says "idle", and stdin closing (even mid-frame) ends the reading.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxProgramsDir } from '../../config/paths.js';

const frame = (obj: unknown) => {
  const body = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
};

/** frames.py, then a loop that answers each frame it reads with {got: frame}, and says when it stopped. */
const ECHO = `${readFileSync(join(sandboxProgramsDir, 'frames.py'), 'utf8')}
while True:
    f = read_frame(0.3)
    if f is None:
        send({"eof": True})
        break
    send({"got": f})
`;

/** Runs the echo program, writes `chunks`, closes its stdin (`keepOpenMs` later), and gives every frame it sent. */
function echo(chunks: Buffer[], opts: { keepOpenMs?: number } = {}): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-I', '-S', '-c', ECHO], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`exit ${code}: ${err}`));
      const all = Buffer.concat(out);
      const frames: unknown[] = [];
      for (let at = 0; at < all.length;) {
        const n = all.readUInt32BE(at);
        frames.push(JSON.parse(all.subarray(at + 4, at + 4 + n).toString('utf8')));
        at += 4 + n;
      }
      resolve(frames);
    });
    void (async () => {
      for (const c of chunks) {
        p.stdin.write(c);
        await new Promise((r) => setTimeout(r, 5));
      }
      if (opts.keepOpenMs) await new Promise((r) => setTimeout(r, opts.keepOpenMs));
      p.stdin.end();
    })();
  });
}

describe('frames inside the containers (frames.py)', () => {
  it('reads frames cut anywhere and several in one write, in order, and answers each whole', async function () {
    this.timeout(20_000);
    const big = { b: 'é'.repeat(100_000) };
    const bytes = Buffer.concat([frame({ a: 1 }), frame(big), frame({ c: [3, 'ü'] })]);
    const chunks: Buffer[] = [bytes.subarray(0, 2), bytes.subarray(2, 9)];
    for (let i = 9; i < bytes.length; i += 65_537) chunks.push(bytes.subarray(i, i + 65_537));
    assert.deepEqual(await echo(chunks), [{ got: { a: 1 } }, { got: big }, { got: { c: [3, 'ü'] } }, { eof: true }]);
  });

  it('says "idle" while nothing comes, and takes a frame cut short by the end of stdin as the end', async function () {
    this.timeout(20_000);
    const cut = frame({ never: 'whole' }).subarray(0, 10);
    const frames = await echo([frame({ a: 1 }), cut], { keepOpenMs: 800 });
    assert.deepEqual(frames[0], { got: { a: 1 } });
    assert.ok(frames.slice(1, -1).length >= 1 && frames.slice(1, -1).every((f) => JSON.stringify(f) === '{"got":"idle"}'), JSON.stringify(frames));
    assert.deepEqual(frames.at(-1), { eof: true });
  });
});
