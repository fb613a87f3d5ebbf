import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { extract } from 'tar-stream';
import { deltaOf } from '../../activities/checkpoints.js';
import { DuraboxError } from '../../contract/errors.js';
import { applyEdit, checkGlob, globToFindRegex, GREP_LINE_CHARS, occurrences, parseGlobOutput, parseGrepOutput } from '../../sandbox/file-patterns.js';

/** Whether `find -regex` (POSIX ERE over the whole path, as the container's find applies it) matches `path`. */
const matches = (glob: string, rel: string, anyDepth = false) => new RegExp(`^(?:${globToFindRegex(glob, anyDepth)})$`).test(`./${rel}`);

describe('session file tools: globs, edits and parsing (file-patterns)', () => {
  describe('globToFindRegex', () => {
    it('* and ? stay within one name', () => {
      assert.ok(matches('*.ts', 'a.ts'));
      assert.ok(!matches('*.ts', 'src/a.ts'), '*.ts matches only directly under the searched directory');
      assert.ok(matches('src/*.ts', 'src/a.ts'));
      assert.ok(!matches('src/*.ts', 'src/x/a.ts'));
      assert.ok(matches('?.txt', 'a.txt'));
      assert.ok(!matches('?.txt', 'ab.txt'));
      assert.ok(!matches('a?b', 'a/b'));
    });

    it('** crosses any number of directories, none included', () => {
      assert.ok(matches('**/*.ts', 'a.ts'));
      assert.ok(matches('**/*.ts', 'x/y/z/a.ts'));
      assert.ok(matches('src/**/*.ts', 'src/a.ts'));
      assert.ok(matches('src/**/*.ts', 'src/x/y/a.ts'));
      assert.ok(!matches('src/**/*.ts', 'lib/a.ts'));
      assert.ok(matches('src/**', 'src/x/y'));
    });

    it('classes, negated classes and brace alternatives', () => {
      assert.ok(matches('[ab].txt', 'a.txt'));
      assert.ok(!matches('[ab].txt', 'c.txt'));
      assert.ok(matches('[!ab].txt', 'c.txt'));
      assert.ok(!matches('[!ab].txt', 'a.txt'));
      assert.ok(matches('*.{ts,tsx}', 'a.tsx'));
      assert.ok(matches('*.{ts,tsx}', 'a.ts'));
      assert.ok(!matches('*.{ts,tsx}', 'a.js'));
      assert.ok(matches('{src,lib}/**/*.{c,h}', 'lib/x/y.h'));
    });

    it('regex characters in a glob are literal', () => {
      assert.ok(matches('a+b(1).txt', 'a+b(1).txt'));
      assert.ok(!matches('a.txt', 'abtxt'), 'a dot is a dot');
      assert.ok(matches('$x^|y', '$x^|y'));
    });

    it('a glob without / matches the name at any depth when asked (grep\'s file filter)', () => {
      assert.ok(matches('*.py', 'a/b/c.py', true));
      assert.ok(matches('*.py', 'c.py', true));
      assert.ok(!matches('src/*.py', 'x/src/c.py', true), 'a glob with / is relative to the searched directory');
    });

    it('matches the same paths with GNU find -regex as the container applies it', () => {
      const dir = mkdtempSync(join(tmpdir(), 'globs-'));
      try {
        for (const f of ['a.ts', 'b.tsx', 'c.js', 'src/d.ts', 'src/x/e.ts', 'lib/f.h', 'a+b(1).txt']) {
          mkdirSync(dirname(join(dir, f)), { recursive: true });
          writeFileSync(join(dir, f), '');
        }
        const find = (glob: string) => execFileSync('find', ['.', '-mindepth', '1', '-type', 'f', '-regextype', 'posix-extended', '-regex', globToFindRegex(glob), '-printf', '%P\\n'], { cwd: dir, encoding: 'utf8' })
          .split('\n').filter(Boolean).sort();
        assert.deepEqual(find('*.ts'), ['a.ts']);
        assert.deepEqual(find('**/*.ts'), ['a.ts', 'src/d.ts', 'src/x/e.ts']);
        assert.deepEqual(find('*.{ts,tsx}'), ['a.ts', 'b.tsx']);
        assert.deepEqual(find('{src,lib}/**/*.[th]'), ['lib/f.h']);
        assert.deepEqual(find('[!ab].*'), ['c.js']);
        assert.deepEqual(find('a+b(1).txt'), ['a+b(1).txt']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('checkGlob refuses absolute globs, .. and unbalanced braces, naming the field', () => {
      assert.throws(() => checkGlob('/etc/*', 'pattern'), (e: unknown) => e instanceof DuraboxError && e.code === 'invalid_pattern' && /^pattern:/.test(e.message));
      assert.throws(() => checkGlob('../*', 'glob'), /glob: must not contain \.\./);
      assert.throws(() => checkGlob('*.{ts', 'pattern'), /unbalanced/);
      assert.doesNotThrow(() => checkGlob('src/**/*.{ts,tsx}', 'pattern'));
    });
  });

  describe('applyEdit', () => {
    const edit = (content: string, oldText: string, newText: string, replaceAll = false) =>
      applyEdit(Buffer.from(content), { path: 'f.txt', oldText, newText, replaceAll });

    it('replaces a unique occurrence exactly', () => {
      const r = edit('alpha\nbeta\ngamma\n', 'beta', 'BETA');
      assert.equal(r.content.toString(), 'alpha\nBETA\ngamma\n');
      assert.equal(r.replacements, 1);
    });

    it('refuses text that is not there with edit_no_match', () => {
      assert.throws(() => edit('alpha', 'Alpha', 'x'), (e: unknown) => e instanceof DuraboxError && e.code === 'edit_no_match');
    });

    it('refuses text found more than once without replace_all, saying how many times', () => {
      assert.throws(() => edit('a-a-a', 'a', 'b'), (e: unknown) => e instanceof DuraboxError && e.code === 'edit_ambiguous' && /3 times/.test(e.message));
    });

    it('replace_all replaces every occurrence, left to right, not overlapping', () => {
      const r = edit('aaaa', 'aa', 'b', true);
      assert.equal(r.content.toString(), 'bb');
      assert.equal(r.replacements, 2);
      assert.equal(occurrences(Buffer.from('aaa'), Buffer.from('aa')), 1);
    });

    it('removes text with an empty new_text, and keeps non-UTF-8 bytes around the match', () => {
      const bin = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('KEY=1'), Buffer.from([0x00, 0x80])]);
      const r = applyEdit(bin, { path: 'b', oldText: 'KEY=1', newText: 'KEY=€' });
      assert.deepEqual(r.content, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('KEY=€'), Buffer.from([0x00, 0x80])]));
      assert.equal(edit('a;b', ';', '').content.toString(), 'ab');
    });
  });

  describe('parsing find and grep output', () => {
    it('glob: absolute paths under the searched directory, at most the limit', () => {
      const out = Buffer.from('a.ts\0src/b.ts\0src/c.ts\0');
      assert.deepEqual(parseGlobOutput('/workspace', out, 5), { matches: ['/workspace/a.ts', '/workspace/src/b.ts', '/workspace/src/c.ts'], truncated: false });
      assert.deepEqual(parseGlobOutput('/workspace/', out, 2), { matches: ['/workspace/a.ts', '/workspace/src/b.ts'], truncated: true });
      assert.deepEqual(parseGlobOutput('/tmp', Buffer.alloc(0), 5), { matches: [], truncated: false });
    });

    it('grep: file, line and text per record; a name holding a newline or a colon stays whole', () => {
      const out = Buffer.from('./a.py\x003:def f():\n./odd\nname:x.txt\x0012:TODO: here\r\n/workspace/one.txt\x001:x\n');
      assert.deepEqual(parseGrepOutput('/workspace/src', out, 10).matches, [
        { path: '/workspace/src/a.py', line: 3, text: 'def f():' },
        { path: '/workspace/src/odd\nname:x.txt', line: 12, text: 'TODO: here' },
        { path: '/workspace/one.txt', line: 1, text: 'x' },
      ]);
    });

    it('grep: at most the limit, truncated past it; long lines cut with a mark', () => {
      const long = 'é'.repeat(GREP_LINE_CHARS + 50);
      const out = Buffer.from(`./a\x001:${long}\n./a\x002:y\n`);
      const r = parseGrepOutput('/w', out, 1);
      assert.equal(r.truncated, true);
      assert.equal(r.matches.length, 1);
      assert.equal([...r.matches[0].text].length, GREP_LINE_CHARS + 1);
      assert.ok(r.matches[0].text.endsWith('…'));
      assert.equal(parseGrepOutput('/w', out, 2).truncated, false);
    });
  });
});

describe('the delta of a move, copy or mkdir (deltaOf)', () => {
  /** name, type, mode and whether it is marked deleted, per member of a tar. */
  const members = async (tar: Buffer) => {
    const out: Array<{ name: string; type: string; mode: string; deleted: boolean; body: string }> = [];
    const ex = extract();
    ex.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => { chunks.push(c as Buffer); });
      stream.on('end', () => {
        out.push({ name: h.name, type: h.type ?? 'file', mode: (h.mode ?? 0).toString(8), deleted: (h.pax as Record<string, string> | undefined)?.['DURABOX.deleted'] === '1', body: Buffer.concat(chunks).toString() });
        next();
      });
    });
    await new Promise<void>((resolve, reject) => { ex.on('finish', () => resolve()); ex.on('error', reject); ex.end(tar); });
    return out;
  };

  it('marks the removed trees deleted first, then carries every member of the made trees as tar wrote them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trees-'));
    try {
      mkdirSync(join(dir, 'to/sub'), { recursive: true });
      writeFileSync(join(dir, 'to/sub/run.sh'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(join(dir, `to/${'n'.repeat(120)}.txt`), 'long name');
      const tar = execFileSync('tar', ['-C', dir, '-cf', '-', './to']);
      const delta = await deltaOf(['./from'], tar);
      const got = await members(delta);
      assert.deepEqual(got[0], { name: './from', type: 'file', mode: '644', deleted: true, body: '' });
      const byName = new Map(got.slice(1).map((m) => [m.name.replace(/\/$/, ''), m]));
      assert.equal(byName.get('./to/sub')?.type, 'directory');
      assert.equal(byName.get('./to/sub/run.sh')?.mode, '755');
      assert.equal(byName.get('./to/sub/run.sh')?.body, '#!/bin/sh\n');
      assert.equal(byName.get(`./to/${'n'.repeat(120)}.txt`)?.body, 'long name', 'a name past 100 characters survives');
      assert.ok(got.slice(1).every((m) => !m.deleted));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is only deletions when nothing was made inside /workspace (a move out to /tmp)', async () => {
    assert.deepEqual((await members(await deltaOf(['./gone', './gone-too'], Buffer.alloc(0)))).map((m) => [m.name, m.deleted]), [['./gone', true], ['./gone-too', true]]);
  });
});
