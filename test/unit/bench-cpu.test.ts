import assert from 'node:assert/strict';
import { costByPart, counterDelta, shimTicks, type WindowSnapshot } from '../../bench/cpu-parts.js';
import type { ProcStat } from '../../bench/procfs.js';
import { parseCpuStatUsageMs } from '../../bench/sandbox-cpu.js';

/** A process whose whole CPU time so far is `own` in utime and `waited` in cutime. */
function proc(pid: number, ppid: number, comm: string, own: number, waited = 0, starttime = pid): ProcStat {
  return { pid, ppid, comm, starttime, utime: own, stime: 0, cutime: waited, cstime: 0 };
}

describe('bench: CPU time by part', () => {
  it('parseCpuStatUsageMs reads usage_usec of a cgroup v2 cpu.stat', () => {
    assert.equal(parseCpuStatUsageMs('usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n'), 2500);
    assert.throws(() => parseCpuStatUsageMs('nr_periods 0\n'), /usage_usec/);
  });

  describe('counterDelta', () => {
    it('is last minus first for a counter seen throughout', () => {
      assert.equal(counterDelta([{ docker: 100 }, { docker: 150 }, { docker: 400 }]), 300);
    });

    it('counts a new counter from zero and keeps a vanished one at its last reading', () => {
      assert.equal(counterDelta([{ a: 100, b: 50 }, { a: 120, b: 70, c: 5 }, { a: 130 }]), 30 + 20 + 5);
    });

    it('is zero without samples', () => {
      assert.equal(counterDelta([]), 0);
    });
  });

  describe('shimTicks', () => {
    const shim = (pid: number, own: number, waited = 0) => proc(pid, 1, 'containerd-shim', own, waited);

    it('counts each shim from its first sighting, a new one from zero', () => {
      const samples = [[shim(100, 50)], [shim(100, 60), shim(200, 5)], [shim(100, 70), shim(200, 9)]];
      assert.equal(shimTicks(samples), 20 + 9);
    });

    it('takes out a container first process the shim waited for, but keeps runc', () => {
      const samples = [
        [shim(100, 10), proc(101, 100, 'python3', 40), proc(102, 100, 'runc', 3)],
        // 101 ended with its 40 ticks and runc with 4: both now in the shim's cutime.
        [shim(100, 12, 40 + 4)],
      ];
      assert.equal(shimTicks(samples), 2 + 4);
    });

    it('takes nothing out when the shim went with its container (its cutime was never read after)', () => {
      const samples = [[shim(100, 10), proc(101, 100, 'python3', 40)], [shim(100, 12), proc(101, 100, 'python3', 44)], []];
      assert.equal(shimTicks(samples), 2);
    });

    it('tells a reused pid from the process that had it', () => {
      const samples = [[shim(100, 50)], [{ ...shim(100, 3), starttime: 999 }]];
      assert.equal(shimTicks(samples), 3);
    });
  });

  describe('costByPart', () => {
    const roles = { temporalPid: 10, workerPid: 20, clientsPid: 30 };
    const snap = (benchProcessUs: number, busy: number, total: number, processes: ProcStat[]): WindowSnapshot => ({ atMs: 0, benchProcessUs, machine: { busy, total }, processes });
    const start = snap(1_000_000, 10_000, 50_000, [
      proc(10, 1, 'temporal', 100), proc(20, 1, 'node', 50), proc(30, 1, 'node', 5),
      proc(40, 1, 'dockerd', 30), proc(41, 40, 'containerd', 20),
      proc(50, 1, 'postgres', 10), proc(51, 50, 'postgres', 4),
    ]);
    const end = snap(1_500_000, 10_200, 50_400, [
      proc(10, 1, 'temporal', 160), proc(20, 1, 'node', 70), proc(30, 1, 'node', 9),
      proc(40, 1, 'dockerd', 33), proc(41, 40, 'containerd', 22),
      // backend 51 ended with 6 ticks: the postmaster waited for it.
      proc(50, 1, 'postgres', 11, 6), proc(52, 50, 'postgres', 1),
    ]);
    const samples = [
      { atMs: 0, shims: [proc(60, 1, 'containerd-shim', 2)], sandboxesMs: { docker: 1000 } },
      { atMs: 1, shims: [proc(60, 1, 'containerd-shim', 5)], sandboxesMs: { docker: 1300 } },
    ];

    it('tells each part\'s ms, per task and as a share of the busy time, and leaves the rest to `other`', () => {
      const c = costByPart({ start, end, samples, roles, completed: 10, windowSec: 2, clockTicksPerSec: 100, sandboxSource: 'cgroup' });
      const ms = Object.fromEntries(c.parts.map((p) => [p.part, p.cpuMs]));
      assert.deepEqual(ms, { temporal: 600, api: 500, 'runtime worker': 200, docker: 50 + 30, database: 40, sandboxes: 300 });
      assert.equal(c.platform.cpuMs, 1720);
      assert.equal(c.benchClients.cpuMs, 40);
      assert.equal(c.machine.cpuMs, 2000);
      assert.equal(c.machine.busyPct, 50);
      assert.equal(c.other.cpuMs, 2000 - 1720 - 40);
      const temporal = c.parts[0];
      assert.equal(temporal.msPerTask, 60);
      assert.equal(temporal.share, 0.3);
    });

    it('names a part it could not measure instead of giving it a number', () => {
      const c = costByPart({ start, end, samples: [], roles: { ...roles, gatewayPid: 77 }, completed: 10, windowSec: 2, clockTicksPerSec: 100, sandboxSource: { error: 'no Docker cgroup found' } });
      const byName = new Map(c.parts.map((p) => [p.part, p]));
      assert.match(byName.get('gateway')!.error!, /77 not found/);
      assert.equal(byName.get('sandboxes')!.cpuMs, undefined);
      assert.match(byName.get('sandboxes')!.error!, /no Docker cgroup/);
      assert.match(c.sandboxSource, /^unavailable/);
    });
  });
});
