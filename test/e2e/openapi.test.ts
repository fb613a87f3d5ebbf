import assert from 'node:assert/strict';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { handlersOf } from '../../api/app.js';
import { koaPath, operationsRouter } from '../../api/routes.js';
import { OPERATIONS, type Operation } from '../../contract/operations.js';

describe('OpenAPI document', () => {
  it('documents exactly the routes the API serves', () => {
    const router = operationsRouter(platform.api.deps, handlersOf(platform.api.deps));
    const served = new Set<string>();
    for (const layer of router.stack) {
      for (const m of layer.methods) if (m !== 'HEAD') served.add(`${m.toLowerCase()} ${String(layer.path)}`);
    }
    const documented = new Set((Object.values(OPERATIONS) as Operation[]).map((o) => `${o.method} ${koaPath(o.path)}`));
    assert.deepEqual([...served].filter((r) => !documented.has(r)).sort(), [], 'served but not documented');
    assert.deepEqual([...documented].filter((r) => !served.has(r)).sort(), [], 'documented but not served');
  });

  it('is served at /api/v1/openapi.json with request and response schemas from the validators', async () => {
    const r = await call('GET', '/api/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const create = r.body.paths['/api/v1/tasks'].post;
    const schema = create.requestBody.content['application/json'].schema;
    assert.deepEqual(schema.required, ['capability']);
    assert.equal(schema.properties.timeout_ms.maximum, 600000);
    assert.equal(schema.additionalProperties, false, 'unknown fields are refused');
    const ok = create.responses['200'].content['application/json'].schema;
    assert.ok(ok.properties.task_id && ok.properties.status.enum.includes('succeeded'), 'the task body is described');
    assert.ok(create.responses['202'] && create.responses['504']);
    for (const [path, methods] of Object.entries<Record<string, { responses: Record<string, { content?: unknown }> }>>(r.body.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, resp] of Object.entries(op.responses)) {
          // 204 and 101 (the switch to a WebSocket) have no body by definition.
          if (status !== '204' && status !== '101' && path.startsWith('/api/v1/')) assert.ok(resp.content, `${method} ${path} ${status} has a described body`);
        }
      }
    }
  });

  it('an unknown field in a REST body is refused with a 400 naming it, as MCP refuses it', async () => {
    const r = await call('POST', '/api/v1/tasks', { token: await newToken(), body: { capability: 'echo', input: { message: 'x' }, colour: 'red' } });
    assert.equal(r.status, 400);
    assert.match(r.body.error, /colour: unknown field/);
  });
});
