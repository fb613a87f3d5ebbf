import assert from 'node:assert/strict';
import type { RuntimeLimits } from '../../config/index.js';
import {
  FILES_HEADROOM_BYTES, OUTPUT_PAYLOAD_BUDGET_BYTES, WRITABLE_PATHS, fitOutputToPayload, hardenedHostConfig, writableTmpfsBytes,
} from '../../sandbox/profile.js';

const MB = 1024 * 1024;
const BUDGET = OUTPUT_PAYLOAD_BUDGET_BYTES;
const jsonBytes = (s: string) => Buffer.byteLength(JSON.stringify(s));
/** A lone surrogate: half of a character, which a cut must never leave behind. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function limits(over: Partial<RuntimeLimits> = {}): RuntimeLimits {
  return { image: 'durabox/python:4', memoryBytes: 256 * MB, nanoCpus: 1e9, pidsLimit: 128, tmpfsBytes: 64 * MB, network: false, ...over };
}

describe('sandbox profile', () => {
  describe('fitOutputToPayload', () => {
    it('keeps outputs under the budget whole and says nothing was cut', () => {
      const r = fitOutputToPayload('hello\n', 'warning: x\n');
      assert.deepEqual(r, { stdout: 'hello\n', stderr: 'warning: x\n', stdoutCut: false, stderrCut: false });
    });

    it('keeps outputs exactly at the budget whole', () => {
      // Two quotes per stream: the bodies may take BUDGET - 4 bytes together.
      const stdout = 'a'.repeat(BUDGET - 4 - 10);
      const r = fitOutputToPayload(stdout, 'b'.repeat(10));
      assert.equal(jsonBytes(r.stdout) + jsonBytes(r.stderr), BUDGET);
      assert.equal(r.stdoutCut, false);
      assert.equal(r.stdout, stdout);
    });

    it('cuts two huge streams to halves that together fit the budget as JSON', () => {
      const r = fitOutputToPayload('o'.repeat(1_500_000), 'e'.repeat(1_500_000));
      assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) <= BUDGET);
      assert.equal(r.stdoutCut, true);
      assert.equal(r.stderrCut, true);
      assert.ok(r.stdout.length > 800_000 && r.stderr.length > 800_000, 'each stream keeps about half the budget');
      assert.ok(/^o+$/.test(r.stdout) && /^e+$/.test(r.stderr), 'a cut keeps the beginning of the stream');
    });

    it('keeps the small stream whole when the other is huge, and gives the huge one the rest', () => {
      const stderr = 'Traceback (most recent call last):\n'.repeat(2000);
      const r = fitOutputToPayload('x'.repeat(3_000_000), stderr);
      assert.equal(r.stderr, stderr);
      assert.equal(r.stderrCut, false);
      assert.equal(r.stdoutCut, true);
      assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) <= BUDGET);
      assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) > BUDGET - 8, 'the huge stream uses the room left');
    });

    it('keeps a small stdout whole when stderr is the huge one', () => {
      const r = fitOutputToPayload('result: 42\n', 'E'.repeat(2_500_000));
      assert.equal(r.stdout, 'result: 42\n');
      assert.equal(r.stdoutCut, false);
      assert.equal(r.stderrCut, true);
      assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) <= BUDGET);
    });

    it('counts a control character as the 6 bytes of its JSON escape', () => {
      // 400,000 raw bytes, 2.4 MB as JSON: under any raw-byte cap, far over the payload budget.
      const stdout = '\x01'.repeat(400_000);
      const r = fitOutputToPayload(stdout, '');
      assert.equal(r.stdoutCut, true);
      assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) <= BUDGET);
      // As much as fits is kept: one more character would not fit.
      assert.ok(jsonBytes(stdout.slice(0, r.stdout.length + 1)) + jsonBytes(r.stderr) > BUDGET);
      assert.equal(r.stdout.length, Math.floor((BUDGET - 4) / 6));
    });

    it('counts quotes, backslashes and short escapes (\\n, \\t) as 2 bytes each', () => {
      const stdout = '"\\\n\t'.repeat(600_000);
      const r = fitOutputToPayload(stdout, '');
      assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) <= BUDGET);
      assert.ok(jsonBytes(stdout.slice(0, r.stdout.length + 1)) + jsonBytes(r.stderr) > BUDGET);
    });

    it('counts multi-byte characters by their UTF-8 size', () => {
      const stdout = '€'.repeat(700_000); // 3 bytes each
      const r = fitOutputToPayload(stdout, 'err');
      assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) <= BUDGET);
      assert.ok(jsonBytes(stdout.slice(0, r.stdout.length + 1)) + jsonBytes(r.stderr) > BUDGET);
      assert.equal(r.stderr, 'err');
    });

    for (const lead of [0, 1, 2, 3]) {
      it(`never splits a surrogate pair (emoji output after ${lead} ASCII byte${lead === 1 ? '' : 's'})`, () => {
        const stdout = 'a'.repeat(lead) + '😀'.repeat(600_000);
        const r = fitOutputToPayload(stdout, '');
        assert.equal(r.stdoutCut, true);
        assert.ok(!LONE_SURROGATE.test(r.stdout), 'the cut left half a character');
        assert.ok(jsonBytes(r.stdout) + jsonBytes(r.stderr) <= BUDGET);
        assert.ok(BUDGET - (jsonBytes(r.stdout) + jsonBytes(r.stderr)) < 4, 'stops only when the next character does not fit');
      });
    }

    it('counts a lone surrogate in the output as the 6 bytes of its JSON escape', () => {
      const stdout = '\ud800'.repeat(400_000);
      const r = fitOutputToPayload(stdout, '');
      assert.ok(jsonBytes(r.stdout) <= BUDGET);
      assert.equal(r.stdout.length, Math.floor((BUDGET - 4) / 6));
    });
  });

  describe('writableTmpfsBytes', () => {
    it('keeps the configured size when memory leaves room for it (python defaults)', () => {
      assert.deepEqual(writableTmpfsBytes(limits()), { each: 64 * MB, shm: 16 * MB });
    });

    it('keeps the configured size for the terminal defaults', () => {
      assert.deepEqual(writableTmpfsBytes(limits({ memoryBytes: 512 * MB, tmpfsBytes: 192 * MB })), { each: 192 * MB, shm: 16 * MB });
    });

    it('cuts each writable path so that all tmpfs mounts leave 64 MiB of memory free', () => {
      for (const [memMb, tmpfsMb] of [[128, 192], [256, 1024], [512, 4096], [100, 64]]) {
        const t = writableTmpfsBytes(limits({ memoryBytes: memMb * MB, tmpfsBytes: tmpfsMb * MB }));
        const total = t.shm + t.each * WRITABLE_PATHS.length;
        assert.ok(memMb * MB - total >= FILES_HEADROOM_BYTES, `${memMb} MiB memory, ${tmpfsMb} MiB tmpfs: only ${(memMb * MB - total) / MB} MiB left`);
        assert.ok(t.each <= tmpfsMb * MB);
      }
      assert.equal(writableTmpfsBytes(limits({ memoryBytes: 128 * MB, tmpfsBytes: 192 * MB })).each, 24 * MB);
    });

    it('never makes /dev/shm larger than 16 MiB or than the configured tmpfs size', () => {
      assert.equal(writableTmpfsBytes(limits({ tmpfsBytes: 4 * MB })).shm, 4 * MB);
      assert.equal(writableTmpfsBytes(limits({ tmpfsBytes: 1024 * MB, memoryBytes: 4096 * MB })).shm, 16 * MB);
    });

    it('still gives each writable path at least 1 MiB when memory is tiny', () => {
      assert.equal(writableTmpfsBytes(limits({ memoryBytes: 32 * MB, tmpfsBytes: 64 * MB })).each, 1 * MB);
    });
  });

  describe('hardenedHostConfig', () => {
    it('gives a sandbox no network unless its runtime asks for one', () => {
      assert.equal(hardenedHostConfig(limits()).NetworkMode, 'none');
      assert.equal(hardenedHostConfig(limits({ network: true })).NetworkMode, 'bridge');
    });

    it('drops every capability, forbids new privileges and mounts the image read-only', () => {
      const h = hardenedHostConfig(limits());
      assert.deepEqual(h.CapDrop, ['ALL']);
      assert.deepEqual(h.SecurityOpt, ['no-new-privileges']);
      assert.equal(h.ReadonlyRootfs, true);
      assert.equal(h.CapAdd, undefined);
      assert.notEqual(h.Privileged, true);
    });

    it('turns swap off by making MemorySwap equal Memory', () => {
      const h = hardenedHostConfig(limits({ memoryBytes: 300 * MB }));
      assert.equal(h.Memory, 300 * MB);
      assert.equal(h.MemorySwap, h.Memory);
    });

    it('applies the CPU and process limits', () => {
      const h = hardenedHostConfig(limits({ nanoCpus: 2.5e9, pidsLimit: 64 }));
      assert.equal(h.NanoCpus, 2.5e9);
      assert.equal(h.PidsLimit, 64);
    });

    it('mounts only /tmp and /workspace writable, sized, nosuid and owned by the sandbox user', () => {
      const h = hardenedHostConfig(limits({ memoryBytes: 128 * MB, tmpfsBytes: 192 * MB }));
      assert.deepEqual(Object.keys(h.Tmpfs ?? {}).sort(), ['/tmp', '/workspace']);
      for (const opts of Object.values(h.Tmpfs ?? {})) {
        const parts = opts.split(',');
        assert.ok(parts.includes(`size=${24 * MB}`), opts);
        assert.ok(parts.includes('nosuid') && parts.includes('nodev'), opts);
        assert.ok(parts.includes('uid=1000') && parts.includes('gid=1000'), opts);
      }
      assert.equal(h.ShmSize, 16 * MB);
    });

    it('forbids core dumps and limits open files', () => {
      const h = hardenedHostConfig(limits());
      assert.deepEqual(h.Ulimits?.find((u) => u.Name === 'core'), { Name: 'core', Soft: 0, Hard: 0 });
      assert.equal(h.Ulimits?.find((u) => u.Name === 'nofile')?.Hard, 1024);
    });
  });
});
