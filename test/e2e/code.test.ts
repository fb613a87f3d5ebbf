// runCode (spec §3.1) for real: IPython, Node's REPL and bash in the sandbox images, one-shot and in
// session contexts, over REST and through the MCP SDK's own client.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';

type Out = {
  results: Array<Record<string, any>>; logs: { stdout: string[]; stderr: string[] }; error?: { name: string; value: string; traceback: string };
  execution_count: number; language: string; session_id?: string; context_id?: string; timed_out: boolean; context_restarted: boolean;
};

const PNG_MAGIC = '89504e470d0a1a0a';
const main = (o: Out) => o.results.find((r) => r.is_main_result);

describe('runCode: the code interpreter', function () {
  this.timeout(120_000);
  let token: string;
  let sid: string;
  const code = (body: Record<string, unknown>, t = token) => call<Out & { error?: any; code?: string; message?: string }>('POST', '/api/v1/commands/code', { token: t, body });

  before(async () => {
    token = await newToken();
    const s = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'true', lease_ttl_sec: 600 } });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    sid = s.body.session_id;
  });
  after(async () => { await call('DELETE', `/api/v1/sessions/${sid}`, { token }); });

  it('keeps variables, imports and definitions between cells in each language\'s context', async () => {
    const py1 = await code({ session_id: sid, code: 'import math\nx = 20\ndef double(v): return v * 2' });
    assert.equal(py1.status, 200, JSON.stringify(py1.body));
    assert.equal(py1.body.context_id, 'default-python');
    const py2 = await code({ session_id: sid, code: 'double(x) + math.floor(2.5)' });
    assert.equal(main(py2.body)?.text, '42');
    assert.ok(py2.body.execution_count > py1.body.execution_count);

    const js1 = await code({ session_id: sid, language: 'javascript', code: 'let n = 40; function inc(v) { return v + 1 }' });
    assert.equal(js1.status, 200, JSON.stringify(js1.body));
    const js2 = await code({ session_id: sid, language: 'JavaScript', code: 'inc(n) + 1' });
    assert.equal(main(js2.body)?.text, '42');
    assert.equal(main(js2.body)?.json, 42);
    const js3 = await code({ session_id: sid, language: 'javascript', code: 'await new Promise((r) => setTimeout(() => r(n), 10))' });
    assert.equal(main(js3.body)?.json, 40, 'top-level await');

    await code({ session_id: sid, language: 'bash', code: 'GREETING=hello; mkdir -p d && cd d' });
    const sh = await code({ session_id: sid, language: 'bash', code: 'echo "$GREETING from $(basename "$PWD")"' });
    assert.deepEqual(sh.body.logs.stdout.join(''), 'hello from d\n');
    const listed = await call('GET', `/api/v1/sessions/${sid}/contexts`, { token });
    assert.deepEqual(listed.body.items.map((c: { context_id: string }) => c.context_id).sort(), ['default-bash', 'default-javascript', 'default-python']);
  });

  it('gives a matplotlib figure as PNG, a DataFrame as HTML and text, and an exception as a normal result', async () => {
    const plot = await code({ session_id: sid, code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title("squares")' });
    assert.equal(plot.status, 200, JSON.stringify(plot.body).slice(0, 500));
    const png = plot.body.results.find((r) => r.png);
    assert.ok(png, `a png result: ${JSON.stringify(plot.body.results.map((r) => Object.keys(r)))}`);
    assert.equal(Buffer.from(png.png, 'base64').subarray(0, 8).toString('hex'), PNG_MAGIC);

    const df = await code({ session_id: sid, code: 'import pandas as pd\npd.DataFrame({"a": [1, 2], "b": ["x", "y"]})' });
    const r = main(df.body);
    assert.match(r?.html ?? '', /<table/);
    assert.match(r?.text ?? '', /a\s+b/);

    const err = await code({ session_id: sid, code: 'x = 1\n1 / 0' });
    assert.equal(err.status, 200);
    assert.equal(err.body.error?.name, 'ZeroDivisionError');
    assert.match(err.body.error?.value ?? '', /division by zero/);
    assert.match(err.body.error?.traceback ?? '', /ZeroDivisionError/);
    assert.doesNotMatch(err.body.error?.traceback ?? '', /\x1b\[/, 'no terminal colours');
    assert.equal(main(await code({ session_id: sid, code: 'x' }).then((o) => o.body))?.text, '1', 'the context lives on after an exception');
  });

  it('shares /workspace with terminal commands of the same session', async () => {
    const w = await code({ session_id: sid, code: 'open("/workspace/from-cell.txt", "w").write("written by a cell")' });
    assert.equal(w.status, 200);
    const t = await call('POST', '/api/v1/commands/terminal', { token, body: { session_id: sid, command: 'cat /workspace/from-cell.txt' } });
    assert.equal(t.body.stdout, 'written by a cell');
  });

  it('interrupts a cell past its timeout and keeps the context; a context whose process died says so, then starts fresh', async () => {
    await code({ session_id: sid, code: 'kept = "still here"' });
    const slow = await code({ session_id: sid, code: 'import time\ntime.sleep(30)', timeout_ms: 1500 });
    assert.equal(slow.status, 200, JSON.stringify(slow.body));
    assert.equal(slow.body.timed_out, true);
    assert.ok(slow.body.error, 'the interrupt is reported');
    assert.equal(main((await code({ session_id: sid, code: 'kept' })).body)?.text, "'still here'");

    const died = await code({ session_id: sid, code: 'import os\nos._exit(3)' });
    assert.equal(died.status, 200);
    assert.equal(died.body.error?.name, 'ContextDied');
    const fresh = await code({ session_id: sid, code: '"kept" in globals()' });
    assert.equal(fresh.body.context_restarted, true);
    assert.equal(main(fresh.body)?.text, 'False');
  });

  it('runs one-shot cells in fresh sandboxes, in every language, keeping nothing', async () => {
    const py = await code({ code: 'y = 6 * 7\ny' });
    assert.equal(py.status, 200, JSON.stringify(py.body));
    assert.equal(main(py.body)?.text, '42');
    assert.equal(py.body.session_id, undefined);
    const again = await code({ code: '"y" in globals()' });
    assert.equal(main(again.body)?.text, 'False', 'nothing carries over');
    const js = await code({ language: 'javascript', code: 'console.log("hi"); [1, 2].map((v) => v * 2)' });
    assert.deepEqual(main(js.body)?.json, [2, 4]);
    assert.equal(js.body.logs.stdout.join(''), 'hi\n');
    const sh = await code({ language: 'bash', code: 'echo out; echo err >&2; (exit 3)' });
    assert.equal(sh.body.logs.stdout.join(''), 'out\n');
    assert.equal(sh.body.logs.stderr.join(''), 'err\n');
    assert.equal(sh.body.error?.name, 'ExitStatus');
    const task = await call('POST', '/api/v1/tasks', { token, body: { capability: 'runcode', input: { code: '2 ** 10' }, mode: 'sync' } });
    assert.equal(task.status, 200, JSON.stringify(task.body));
    assert.equal(task.body.capability, 'runCode');
    assert.equal(main(task.body.result)?.text, '1024');
  });

  it('creates, lists and deletes named contexts; a deleted one is 404 context_not_found', async () => {
    const made = await call('POST', `/api/v1/sessions/${sid}/contexts`, { token, body: { language: 'python' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const ctx = made.body.context_id;
    await code({ session_id: sid, context_id: ctx, code: 'only_here = 1' });
    assert.equal(main((await code({ session_id: sid, context_id: ctx, code: 'only_here' })).body)?.text, '1');
    assert.equal(main((await code({ session_id: sid, code: '"only_here" in globals()' })).body)?.text, 'False', 'contexts do not share variables');
    assert.equal((await call('DELETE', `/api/v1/sessions/${sid}/contexts/${ctx}`, { token })).status, 204);
    const gone = await code({ session_id: sid, context_id: ctx, code: '1' });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.code, 'context_not_found');
    assert.equal((await call('DELETE', `/api/v1/sessions/${sid}/contexts/${ctx}`, { token })).status, 404);
  });

  it('refuses bad input with a 4xx naming the field, and disturbs nothing', async () => {
    const lang = await code({ session_id: sid, language: 'cobol', code: '1' });
    assert.equal(lang.status, 400);
    assert.match(lang.body.error, /language/);
    const orphan = await code({ context_id: 'default-python', code: '1' });
    assert.equal(orphan.status, 400);
    assert.match(orphan.body.error, /context_id: needs session_id/);
    const big = await code({ session_id: sid, code: 'x'.repeat(1_000_001) });
    assert.equal(big.status, 400);
    assert.match(big.body.error, /code/);
    const blank = await code({ session_id: sid, code: '   ' });
    assert.equal(blank.status, 400);

    const other = await platform.otherAccount('code');
    const theirs = await code({ session_id: sid, code: '1' }, other.token);
    assert.equal(theirs.status, 404, 'another account\'s session is unknown');
    assert.equal(theirs.body.code, 'session_not_found');
    const otherSession = await call('POST', '/api/v1/commands/terminal', { token, body: { command: 'true' } });
    const foreignCtx = await call('POST', `/api/v1/sessions/${otherSession.body.session_id}/contexts`, { token, body: { language: 'bash' } });
    const crossed = await code({ session_id: sid, context_id: foreignCtx.body.context_id, code: 'echo hi', language: 'bash' });
    assert.equal(crossed.status, 404, 'a context of another session is unknown here');
    assert.equal(crossed.body.code, 'context_not_found');
    await call('DELETE', `/api/v1/sessions/${otherSession.body.session_id}`, { token });
    const mismatch = await code({ session_id: sid, context_id: 'default-javascript', language: 'python', code: '1' });
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body.message ?? mismatch.body.error, /language/);
    assert.equal(main((await code({ session_id: sid, code: '40 + 2' })).body)?.text, '42', 'the session still works');
  });

  it('over MCP: structured results, and every figure as an image item the model sees', async () => {
    const client = new Client({ name: 'durabox-code-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      const { tools } = await client.listTools();
      const tool = tools.find((t) => t.name === 'runCode');
      assert.ok(tool?.outputSchema, 'runCode lists an output schema');
      assert.equal(tool?.annotations?.openWorldHint, true);
      const r = await client.callTool({ name: 'runCode', arguments: { session_id: sid, code: 'import matplotlib.pyplot as plt\nplt.bar(["a", "b"], [3, 5])\nplt.show()\n"done"' } });
      assert.ok(!r.isError, JSON.stringify(r).slice(0, 300));
      const content = r.content as Array<{ type: string; data?: string; mimeType?: string; text?: string }>;
      const image = content.find((c) => c.type === 'image');
      assert.equal(image?.mimeType, 'image/png');
      assert.equal(Buffer.from(image!.data!, 'base64').subarray(0, 8).toString('hex'), PNG_MAGIC);
      assert.doesNotMatch(content[0].text!, /iVBORw0KGgo/, 'the text leaves the base64 out');
      const structured = r.structuredContent as Out;
      assert.equal(main(structured)?.text, "'done'");
      assert.ok(structured.results.some((x) => x.png));
      const err = await client.callTool({ name: 'runCode', arguments: { language: 'javascript', code: 'null.boom' } });
      assert.ok(!err.isError, 'an exception is a normal result');
      assert.equal((err.structuredContent as Out).error?.name, 'TypeError');
    } finally {
      await client.close();
    }
  });
});
