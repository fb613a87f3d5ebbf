import assert from 'node:assert/strict';
import { parseListing } from '../../sandbox/session-files.js';

/** One record of `find -printf '%y\t%s\t%T@\t%f\0'`: NUL-terminated, as no file name can hold a NUL. */
const line = (kind: string, size: number, mtime: string, name: string) => `${kind}\t${size}\t${mtime}\t${name}\0`;

describe('session file listing (parseListing)', () => {
  it('reads files, directories and symlinks with their sizes', () => {
    const entries = parseListing(Buffer.from(
      line('f', 1234, '1700000000.0000000000', 'data.csv') + line('d', 4096, '1700000001.0000000000', 'out') + line('l', 9, '1700000002.0000000000', 'latest'),
    ));
    assert.deepEqual(entries.map((e) => [e.name, e.type, e.size]), [
      ['data.csv', 'file', 1234],
      ['latest', 'symlink', 9],
      ['out', 'dir', 4096],
    ]);
  });

  it('calls sockets, pipes and devices "other"', () => {
    const entries = parseListing(Buffer.from(line('p', 0, '1700000000.0', 'fifo') + line('s', 0, '1700000000.0', 'sock') + line('c', 0, '1700000000.0', 'null')));
    assert.deepEqual(entries.map((e) => e.type), ['other', 'other', 'other']);
  });

  it('gives modification times as ISO 8601 UTC, keeping milliseconds', () => {
    const [e] = parseListing(Buffer.from(line('f', 1, '1700000000.5000000000', 'a')));
    assert.equal(e.modified, '2023-11-14T22:13:20.500Z');
    assert.equal(new Date(e.modified).getTime(), 1_700_000_000_500);
  });

  it('sorts entries by name whatever order find printed them in', () => {
    const entries = parseListing(Buffer.from(line('f', 1, '1700000000.0', 'zeta') + line('f', 1, '1700000000.0', 'alpha') + line('f', 1, '1700000000.0', 'mid')));
    assert.deepEqual(entries.map((e) => e.name), ['alpha', 'mid', 'zeta']);
  });

  it('keeps a name containing tabs whole', () => {
    const [e] = parseListing(Buffer.from(line('f', 7, '1700000000.0', 'a\tb\tc.txt')));
    assert.equal(e.name, 'a\tb\tc.txt');
    assert.equal(e.type, 'file');
    assert.equal(e.size, 7);
  });

  it('keeps names with spaces and non-ASCII characters as UTF-8', () => {
    const entries = parseListing(Buffer.from(line('f', 3, '1700000000.0', 'résumé final.pdf') + line('f', 3, '1700000000.0', '数据.txt'), 'utf8'));
    assert.deepEqual(entries.map((e) => e.name).sort(), ['résumé final.pdf', '数据.txt'].sort());
  });

  it('answers an empty directory with no entries', () => {
    assert.deepEqual(parseListing(Buffer.from('')), []);
    assert.deepEqual(parseListing(Buffer.from('\0')), []);
  });

  // A user can create such a file with one shell command in a terminal session (touch "$(printf 'a\nb')").
  // The whole directory must stay listable: one odd name must not turn every listing of it into an error.
  it('still lists a directory holding a file whose name contains a newline', () => {
    const out = Buffer.from(line('f', 5, '1700000000.0', 'notes.txt') + line('f', 3, '1700000000.0', 'bad\nname'));
    let entries: ReturnType<typeof parseListing> = [];
    assert.doesNotThrow(() => { entries = parseListing(out); });
    assert.ok(entries.some((e) => e.name === 'notes.txt' && e.type === 'file' && e.size === 5));
    assert.ok(entries.some((e) => e.name === 'bad\nname' && e.size === 3), 'the odd name is kept whole');
    for (const e of entries) {
      assert.ok(Number.isFinite(e.size), `entry ${JSON.stringify(e.name)} has size ${e.size}`);
      assert.ok(!Number.isNaN(Date.parse(e.modified)), `entry ${JSON.stringify(e.name)} has time ${e.modified}`);
    }
  });
});
