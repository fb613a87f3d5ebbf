import assert from 'node:assert/strict';
import { platform } from './support/hooks.js';
import { call } from './support/http.js';
import { apiRouters } from '../api/server.js';
import { OPERATIONS } from '../api/openapi.js';

describe('OpenAPI document', () => {
  it('documents exactly the routes the API serves', () => {
    const served = new Set<string>();
    for (const router of apiRouters(platform.api.deps)) {
      for (const layer of router.stack) {
        const path = String(layer.path).replace(/\/$/, '').replace(/:(\w+)/g, '{$1}') || '/';
        for (const m of layer.methods) if (m !== 'HEAD') served.add(`${m.toLowerCase()} ${path}`);
      }
    }
    const documented = new Set(OPERATIONS.map((o) => `${o.method} ${o.path}`));
    assert.deepEqual([...served].filter((r) => !documented.has(r)).sort(), [], 'served but not documented');
    assert.deepEqual([...documented].filter((r) => !served.has(r)).sort(), [], 'documented but not served');
  });

  it('is served at /api/v1/openapi.json with request schemas from the validators', async () => {
    const r = await call('GET', '/api/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const create = r.body.paths['/api/v1/tasks'].post;
    const schema = create.requestBody.content['application/json'].schema;
    assert.deepEqual(schema.required, ['capability']);
    assert.equal(schema.properties.timeout_ms.maximum, 600000);
    assert.ok(create.responses['202'] && create.responses['504']);
  });
});
