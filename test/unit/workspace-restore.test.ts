// The rules a checkpoint is unpacked by (sandbox/inside/workspace-restore.py), run by this machine's python3 into a
// scratch directory that stands for /workspace, beside one that stands for everything outside it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESTORE_SOURCE } from '../../sandbox/workspace-checkpoint.js';
import { tarOf } from '../support/tar.js';

type Answer = { restored?: boolean; refused: string[]; refused_count: number; error?: string };

function restore(tar: Buffer, root: string): Answer {
  const program = `${RESTORE_SOURCE}\nimport json, sys\nprint(json.dumps(restore_workspace(sys.stdin.buffer, root=sys.argv[1])))\n`;
  const r = spawnSync('python3', ['-c', program, root], { input: tar, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Answer;
}

describe('workspace restore: what a checkpoint may unpack', () => {
  let dir: string;
  let ws: string;
  let outside: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'restore-'));
    ws = join(dir, 'workspace');
    outside = join(dir, 'outside');
    mkdirSync(ws);
    mkdirSync(outside);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes nothing outside the workspace, whatever the names, links and types, and names each member it refused', () => {
    const answer = restore(tarOf([
      { name: './', type: '5' },
      { name: './keep.txt', data: 'kept\n' },
      { name: './hl-good', type: '1', linkname: './keep.txt' },
      { name: './out', type: '2', linkname: '../outside' },
      { name: './out/through', data: 'x' },
      { name: './abs', type: '2', linkname: outside },
      { name: './abs', data: 'replaced\n' },
      // A symlink to the workspace itself, then `..` through it: the path check must not be lexical only.
      { name: './self', type: '2', linkname: '.' },
      { name: './self/x', data: 'x' },
      { name: '../outside/dotdot', data: 'x' },
      { name: `${outside}/absolute`, data: 'x' },
      { name: './hl-out', type: '1', linkname: `${outside}/target` },
      { name: './hl-missing', type: '1', linkname: 'nowhere' },
      { name: './fifo', type: '6' },
      { name: './dev', type: '3', dev: [1, 3] },
      { name: './suid', data: 'x', mode: 0o6755 },
      { name: './deep/er/file', data: 'deep\n' },
    ]), ws);
    assert.deepEqual(readdirSync(outside), [], 'nothing outside the workspace');
    assert.equal(answer.refused_count, 8, JSON.stringify(answer));
    const reasons = answer.refused.join('\n');
    for (const r of ['./out/through: its path goes through a symlink', './self/x: its path goes through a symlink', "../outside/dotdot: name with '..'",
      `${outside}/absolute: absolute name`, './hl-out: a hard link to something this checkpoint did not make', './hl-missing: a hard link',
      './fifo: a device node, FIFO or other special file', './dev: a device node']) {
      assert.ok(reasons.includes(r), `${r} in ${reasons}`);
    }
    assert.equal(readFileSync(join(ws, 'keep.txt'), 'utf8'), 'kept\n');
    assert.equal(statSync(join(ws, 'keep.txt')).nlink, 2, 'a hard link to a member of the archive is kept');
    assert.equal(readlinkSync(join(ws, 'out')), '../outside', 'symlinks are made as they were');
    assert.equal(readFileSync(join(ws, 'abs'), 'utf8'), 'replaced\n', 'a file of a symlink\'s name replaces it, never writes through it');
    assert.ok(lstatSync(join(ws, 'abs')).isFile());
    assert.equal(statSync(join(ws, 'suid')).mode & 0o7777, 0o755, 'no setuid or setgid bit');
    assert.equal(readFileSync(join(ws, 'deep/er/file'), 'utf8'), 'deep\n');
  });

  it('restores a sparse file as sparse: its size without its holes\' bytes', () => {
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'big'), '');
    truncateSync(join(src, 'big'), 2 ** 40);
    const tar = spawnSync('tar', ['-C', src, '--sparse', '-cf', '-', '.']).stdout;
    assert.ok(tar.length < 64 * 1024, `a small tar: ${tar.length}`);
    assert.equal(restore(tar, ws).refused_count, 0);
    const st = statSync(join(ws, 'big'));
    assert.equal(st.size, 2 ** 40);
    assert.ok(st.blocks < 64, `no blocks for the holes: ${st.blocks}`);
  });

  it('answers a damaged tar with an error, never a partial success', () => {
    const tar = tarOf([{ name: './a', data: 'x'.repeat(4096) }]).subarray(0, 1024);
    const program = `${RESTORE_SOURCE}\nimport sys\nrestore_workspace(sys.stdin.buffer, root=sys.argv[1])\n`;
    const r = spawnSync('python3', ['-c', program, ws], { input: tar, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /ReadError: unexpected end of data/);
  });
});
