// prepareNamespace's bound on a server that keeps answering NotFound for a namespace it has registered
// (the real server's short wait is in test/workflows/namespace.test.ts): it tries again, then says why.
import assert from 'node:assert/strict';
import type { NativeConnection } from '@temporalio/worker';
import { loadTemporalSettings } from '../../config/index.js';
import { SEARCH_ATTRIBUTES } from '../../contract/search-attributes.js';
import { prepareNamespace } from '../../temporal/connection.js';

const notFound = (namespace: string) => Object.assign(new Error(`Namespace ${namespace} is not found.`), { code: 5 });

/** A server that knows the namespace (retention as asked) and answers the search-attribute list NotFound `misses` times. */
function server(namespace: string, misses: number) {
  const calls = { list: 0 };
  const attributes = Object.fromEntries(SEARCH_ATTRIBUTES.map((a) => [a.name, 2]));
  const connection = {
    workflowService: {
      describeNamespace: async () => ({ config: { workflowExecutionRetentionTtl: { seconds: 3 * 86400 } } }),
    },
    operatorService: {
      listSearchAttributes: async () => {
        calls.list++;
        if (calls.list <= misses) throw notFound(namespace);
        return { customAttributes: attributes };
      },
    },
  } as unknown as NativeConnection;
  return { connection, calls };
}

describe('prepareNamespace on a namespace the server does not know yet', () => {
  const settings = { ...loadTemporalSettings({}), namespace: 'just-made', retentionDays: 3 };

  it('tries again while the server answers NotFound, and goes on once it knows the namespace', async () => {
    const { connection, calls } = server('just-made', 3);
    await prepareNamespace(connection, settings, 5_000);
    assert.equal(calls.list, 4);
  });

  it('gives up after its bound with an error naming the namespace and the server\'s answer', async () => {
    const { connection, calls } = server('just-made', Infinity);
    const started = Date.now();
    await assert.rejects(prepareNamespace(connection, settings, 400), (e: Error) => {
      assert.match(e.message, /namespace just-made .*Namespace just-made is not found.* after 400 ms/);
      assert.match(e.message, /TEMPORAL_NAMESPACE/);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 150 && took < 2_000, `gave up after ${took} ms`);
    assert.ok(calls.list > 1, 'tried more than once');
  });

  it('does not wait out other failures', async () => {
    const { connection } = server('just-made', 0);
    (connection.operatorService as unknown as Record<string, unknown>).listSearchAttributes = async () => { throw Object.assign(new Error('denied'), { code: 7 }); };
    const started = Date.now();
    await assert.rejects(prepareNamespace(connection, settings, 5_000), /denied/);
    assert.ok(Date.now() - started < 1_000);
  });
});
