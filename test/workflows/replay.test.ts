// Replays every recorded workflow history in test/workflows/histories/ against the current workflow code:
// a change to taskWorkflow or sessionWorkflow that would break running workflows (non-determinism) fails
// here. The histories come from real runs (`npm run record-histories`, harness/record-histories.ts), a *.json
// file per run holding `History.toObject` of @temporalio/proto, read back with `History.fromObject`. (The
// SDK's historyFromJSON cannot be used here: @temporalio/common and @temporalio/proto load separate copies
// of protobufjs, and its type check fails across them.) No server is needed.
//
// DURABOX_REPLAY_HISTORIES=<dir> replays another folder instead (to try histories before adding them).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import proto from '@temporalio/proto';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { repoRoot } from '../../config/paths.js';
import { workflowBundle } from './support/env.js';

const dir = process.env.DURABOX_REPLAY_HISTORIES || join(repoRoot, 'test', 'workflows', 'histories');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];

/** A History from a recorded file; anything without events is refused rather than replayed as nothing. */
function historyOf(json: unknown): proto.temporal.api.history.v1.History {
  const events = (json as { events?: unknown } | null)?.events;
  if (!Array.isArray(events) || events.length === 0) throw new TypeError('not a workflow history: expected {"events": [...]} with at least one event');
  return proto.temporal.api.history.v1.History.fromObject(json as object);
}

describe('workflow replay', function () {
  this.timeout(120_000);

  const results = new Map<string, ReplayResult>();
  const unreadable = new Map<string, string>();

  before(async function () {
    if (files.length === 0) return;
    const histories: { workflowId: string; history: proto.temporal.api.history.v1.History }[] = [];
    for (const f of files) {
      try {
        histories.push({ workflowId: basename(f, '.json'), history: historyOf(JSON.parse(readFileSync(join(dir, f), 'utf8'))) });
      } catch (e) {
        unreadable.set(f, (e as Error).message);
      }
    }
    for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), replayName: 'durabox-replay' }, histories)) {
      results.set(`${r.workflowId}.json`, r);
    }
  });

  it(`finds recorded histories to replay in ${dir}`, () => {
    assert.ok(
      files.length > 0,
      `no *.json history in ${dir}: record histories of real runs there (\`npm run record-histories\`), `
      + 'otherwise nothing guards the workflows against non-deterministic changes',
    );
  });

  for (const f of files) {
    it(`replays ${f} without a determinism error`, () => {
      assert.equal(unreadable.get(f), undefined, `${f} is not a readable history: ${unreadable.get(f)}`);
      const r = results.get(f);
      assert.ok(r, `${f} was not replayed`);
      assert.equal(r.error, undefined, `${f}: ${r.error?.name}: ${r.error?.message}`);
    });
  }
});
