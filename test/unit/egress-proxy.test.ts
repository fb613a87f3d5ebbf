// The egress proxy's own unit tests (test/unit/egress_proxy_test.py, Python's unittest against
// sandbox/egress-proxy.py), run with this host's python3: special IPv6 ranges, the host's own addresses,
// strict request heads, Host headers, ClientHello server names and DNS bounds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../config/paths.js';

describe('egress proxy: its pure parts, in Python', () => {
  it('passes its unittest suite', function () {
    this.timeout(60_000);
    const r = spawnSync('python3', [join(repoRoot, 'test', 'unit', 'egress_proxy_test.py')], { encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^OK$/m, r.stderr);
  });
});
