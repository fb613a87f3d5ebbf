// The egress proxy's own unit tests (test/unit/egress_proxy_test.py, Python's unittest against
// sandbox/inside/egress-proxy.py), run with this host's python3: special IPv6 ranges, the host's own addresses,
// strict request heads, Host headers, what a tunnel carries, ClientHello server names and DNS bounds.
// And what the worker tells the proxy about its host.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../config/paths.js';
import { bridgeAddress, hostAddresses } from '../../sandbox/egress.js';

describe('egress proxy: its pure parts, in Python', () => {
  it('passes its unittest suite', function () {
    this.timeout(60_000);
    const r = spawnSync('python3', [join(repoRoot, 'test', 'unit', 'egress_proxy_test.py')], { encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^OK$/m, r.stderr);
  });

  it('is told every address of this host, the docker0 bridge\'s included, without zone suffixes', () => {
    const addrs = hostAddresses();
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) assert.ok(addrs.includes(a.address.split('%')[0]), a.address);
    }
    assert.ok(addrs.includes('127.0.0.1'));
    assert.ok(addrs.every((a) => !a.includes('%')));
    const bridge = bridgeAddress();
    if (networkInterfaces().docker0) assert.ok(bridge && addrs.includes(bridge), 'the docker0 address');
    assert.equal(new Set(addrs).size, addrs.length);
  });
});
