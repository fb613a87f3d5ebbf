// Checkpoints by difference (test/unit/workspace_delta_test.py, Python's unittest against the session
// agent's delta and the restore's rules), run with this host's python3: steps applied to a copy keep it
// equal, an unstored delta is sent again, too large changes ask for a full checkpoint, and deletions stay
// inside the workspace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../config/paths.js';

describe('workspace deltas: the agent\'s and the restore\'s parts, in Python', () => {
  it('passes its unittest suite', function () {
    this.timeout(60_000);
    const r = spawnSync('python3', ['-W', 'error::ResourceWarning', join(repoRoot, 'test', 'unit', 'workspace_delta_test.py')], { encoding: 'utf8', timeout: 50_000 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^OK$/m, r.stderr);
  });
});
