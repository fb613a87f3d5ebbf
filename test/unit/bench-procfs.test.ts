import assert from 'node:assert/strict';
import { parseMachineTicks, parseProcStat, processTree, type ProcStat } from '../../bench/procfs.js';

/** A process whose whole CPU time so far is `own` in utime and `waited` in cutime. */
function proc(pid: number, ppid: number, comm: string, own: number, waited = 0, starttime = pid): ProcStat {
  return { pid, ppid, comm, starttime, utime: own, stime: 0, cutime: waited, cstime: 0 };
}

describe('bench: /proc', () => {
  describe('parseProcStat', () => {
    it('reads the fields after the name, which may hold spaces and parentheses', () => {
      const tail = 'S 8555 8570 8570 0 -1 4194304 40097 881136 8 12 2295 1387 360 584 20 0 23 0 2429873 2006265856 12549';
      assert.deepEqual(parseProcStat(`8570 (containerd) ${tail}`), {
        pid: 8570, comm: 'containerd', ppid: 8555, utime: 2295, stime: 1387, cutime: 360, cstime: 584, starttime: 2429873,
      });
      const odd = parseProcStat(`42 (a (b) c) ${tail}`);
      assert.equal(odd.comm, 'a (b) c');
      assert.equal(odd.ppid, 8555);
      assert.equal(odd.utime, 2295);
    });

    it('refuses a line that is not one', () => {
      assert.throws(() => parseProcStat('garbage'), /not a \/proc/);
    });
  });

  it('parseMachineTicks: busy leaves out idle and iowait, and guest time already inside user', () => {
    const t = parseMachineTicks('cpu  100 10 50 1000 40 5 6 7 30 3\ncpu0 1 2 3 4 5 6 7 8 9 10\n');
    assert.deepEqual(t, { busy: 100 + 10 + 50 + 5 + 6 + 7, total: 100 + 10 + 50 + 5 + 6 + 7 + 1000 + 40 });
    assert.throws(() => parseMachineTicks('intr 1 2 3\n'), /no "cpu" line/);
  });

  it('processTree: a process and all its descendants, nothing else', () => {
    const procs = [proc(1, 0, 'init', 0), proc(10, 1, 'a', 0), proc(11, 10, 'b', 0), proc(12, 11, 'c', 0), proc(20, 1, 'other', 0)];
    assert.deepEqual(processTree(10, procs).map((p) => p.pid).sort(), [10, 11, 12]);
    assert.deepEqual(processTree(99, procs), []);
  });
});
