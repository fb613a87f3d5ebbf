import assert from 'node:assert/strict';
import type { z } from 'zod';
import { invalidToolCalls } from '../../api/mcp.js';
import { EchoInput, ListFilesToolInput, PythonExecInput } from '../../contract/schemas.js';

type Tools = Parameters<typeof invalidToolCalls>[1];
type RpcError = { jsonrpc: string; id: unknown; error: { code: number; message: string } };

const INVALID_PARAMS = -32602;

function tool(input: z.ZodObject): Tools[string] {
  return { input, config: { title: 't', description: 'd', annotations: {} }, run: async () => ({}) };
}

const tools: Tools = { pythonExec: tool(PythonExecInput), echo: tool(EchoInput), listFiles: tool(ListFilesToolInput) };

const call = (id: unknown, name: unknown, args?: unknown) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
const answers = (body: unknown) => invalidToolCalls(body, tools) as RpcError[];

describe('MCP argument checks (invalidToolCalls)', () => {
  it('lets a valid call through', () => {
    assert.deepEqual(answers(call(1, 'pythonExec', { code: 'print(1)' })), []);
  });

  it('lets a call through when defaults fill the missing optional arguments', () => {
    assert.deepEqual(answers(call(2, 'listFiles', { session_id: 's1' })), []);
  });

  it('answers an unknown argument with one -32602 error naming the field and echoing the id', () => {
    const r = answers(call(7, 'pythonExec', { code: 'print(1)', language: 'python' }));
    assert.equal(r.length, 1);
    assert.equal(r[0].jsonrpc, '2.0');
    assert.equal(r[0].id, 7);
    assert.equal(r[0].error.code, INVALID_PARAMS);
    assert.match(r[0].error.message, /^invalid arguments for pythonExec: /);
    assert.match(r[0].error.message, /language: unknown field/);
  });

  it('names a bad argument value', () => {
    const r = answers(call('req-1', 'echo', { message: '   ' }));
    assert.equal(r.length, 1);
    assert.equal(r[0].id, 'req-1');
    assert.match(r[0].error.message, /message: message must not be blank/);
  });

  it('names a missing required argument, also when no arguments are sent at all', () => {
    for (const args of [{}, undefined, null]) {
      const r = answers(call(3, 'pythonExec', args));
      assert.equal(r.length, 1, JSON.stringify(args));
      assert.match(r[0].error.message, /code: /);
    }
  });

  it('answers an unknown tool with -32602 naming it and the known tools', () => {
    const r = answers(call(4, 'rm_rf', {}));
    assert.equal(r.length, 1);
    assert.equal(r[0].id, 4);
    assert.equal(r[0].error.code, INVALID_PARAMS);
    assert.match(r[0].error.message, /unknown tool "rm_rf"/);
    assert.match(r[0].error.message, /pythonExec, echo, listFiles/);
  });

  it('does not take an inherited object property for a tool', () => {
    const r = answers(call(5, 'toString', {}));
    assert.equal(r.length, 1);
    assert.match(r[0].error.message, /unknown tool "toString"/);
  });

  it('answers a request id of 0 like any other', () => {
    const r = answers(call(0, 'pythonExec', { nope: 1 }));
    assert.equal(r.length, 1);
    assert.equal(r[0].id, 0);
  });

  it('ignores notifications (no id), even with bad arguments', () => {
    const { id: _id, ...notification } = call(1, 'pythonExec', { bogus: true });
    assert.deepEqual(answers(notification), []);
  });

  it('leaves other methods and non-messages to the SDK', () => {
    assert.deepEqual(answers({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), []);
    assert.deepEqual(answers({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { name: 'x' } }), []);
    assert.deepEqual(answers(null), []);
    assert.deepEqual(answers('garbage'), []);
  });

  describe('batches', () => {
    it('lets a batch of valid calls through', () => {
      assert.deepEqual(answers([call(1, 'pythonExec', { code: 'print(1)' }), call(2, 'echo', { message: 'hi' })]), []);
    });

    it('answers every request of a batch holding one invalid call, and no notification', () => {
      const { id: _id, ...notification } = call(0, 'echo', { message: 'hi' });
      const r = answers([
        call(1, 'pythonExec', { code: 'print(1)' }),
        call(2, 'pythonExec', { code: 'print(2)', extra: true }),
        { jsonrpc: '2.0', id: 3, method: 'tools/list' },
        notification,
      ]);
      assert.deepEqual(r.map((a) => a.id), [1, 2, 3]);
      for (const a of r) {
        assert.equal(a.jsonrpc, '2.0');
        assert.equal(a.error.code, INVALID_PARAMS);
      }
      assert.match(r[1].error.message, /extra: unknown field/);
      assert.match(r[0].error.message, /not run: another call in this batch has invalid arguments/);
      assert.match(r[2].error.message, /not run/);
    });

    it('gives each invalid call of a batch its own reason', () => {
      const r = answers([call('a', 'nosuch', {}), call('b', 'echo', { message: '' })]);
      assert.equal(r.length, 2);
      assert.match(r[0].error.message, /unknown tool "nosuch"/);
      assert.match(r[1].error.message, /message: /);
    });
  });

  it('answers a task asked of a tool that does not run as one with -32601 naming the tools that do', () => {
    const r = answers({ ...call(11, 'echo', { message: 'hi' }), params: { name: 'echo', arguments: { message: 'hi' }, task: {} } });
    assert.equal(r.length, 1);
    assert.equal(r[0].error.code, -32601);
    assert.match(r[0].error.message, /echo does not run as a task \(tools that do: pythonExec, terminalExec, runCode\)/);
    assert.deepEqual(answers({ ...call(12, 'pythonExec', { code: '1' }), params: { name: 'pythonExec', arguments: { code: '1' }, task: {} } }), []);
  });
});
