// Streaming (spec §3.3) for real: Server-Sent Events over REST and notifications/progress over MCP,
// with output that travels from the sandbox through the worker and PostgreSQL NOTIFY to any API process.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { platform } from './support/hooks.js';
import { call, newToken } from './support/http.js';
import { collect, openEvents, SLOW_PRINT, type SseEvent } from './support/sse.js';

const text = (events: SseEvent[], stream = 'stdout') => events.filter((e) => e.event === stream).map((e) => e.data.text).join('');

describe('streaming output while work runs', function () {
  this.timeout(120_000);
  let token: string;

  before(async () => { token = await newToken(); });

  it('POST /tasks with Accept: text/event-stream delivers the first line seconds before the result', async () => {
    const t0 = Date.now();
    const { status, type, events } = await openEvents(`${platform.url}/api/v1/tasks`, {
      method: 'POST', token, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ capability: 'pythonExec', input: { code: SLOW_PRINT } }),
    });
    assert.equal(status, 200);
    assert.match(type, /^text\/event-stream/);
    const all = await collect(events);
    assert.equal(all[0].event, 'status');
    const first = all.find((e) => e.event === 'stdout');
    const result = all.find((e) => e.event === 'result');
    assert.ok(first && result, JSON.stringify(all.map((e) => e.event)));
    assert.equal(first.data.text, 'first\n');
    assert.ok(result.at - first.at >= 2000, `first chunk ${first.at - t0} ms, result ${result.at - t0} ms: the line came while the code ran`);
    assert.equal(text(all), 'first\nlast\n');
    assert.equal(result.data.status, 'succeeded');
    assert.equal(result.data.result.output, 'first\nlast\n');
    assert.equal(all[all.length - 1].event, 'result', 'the stream ends after the result');
  });

  it('a task that ends before its first chunks went out streams the output its result holds', async () => {
    const all = await collect((await openEvents(`${platform.url}/api/v1/tasks`, {
      method: 'POST', token, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ capability: 'pythonExec', input: { code: 'import sys\nprint(1)\nprint("e", file=sys.stderr)' } }),
    })).events);
    assert.deepEqual(all.map((e) => e.event), ['status', 'stdout', 'stderr', 'result']);
    assert.equal(text(all), '1\n');
    assert.equal(text(all, 'stderr'), 'e\n');
  });

  it('a client that connects late gets what was already written, then the rest and the status', async () => {
    const started = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: SLOW_PRINT }, mode: 'async' } });
    assert.equal(started.status, 202);
    await new Promise((r) => setTimeout(r, 1500));
    const { events } = await openEvents(`${platform.url}/api/v1/tasks/${started.body.task_id}/events`, { token });
    const all = await collect(events);
    assert.deepEqual(all[0].data, { task_id: started.body.task_id, status: 'running' });
    assert.equal(text(all), 'first\nlast\n');
    assert.equal(all[all.length - 1].data.status, 'succeeded');
    const after = await collect((await openEvents(`${platform.url}/api/v1/tasks/${started.body.task_id}/events`, { token })).events);
    assert.deepEqual(after.map((e) => e.event), ['status', 'stdout', 'stdout', 'result'], 'a finished task: its output and result, at once');
    const other = await platform.otherAccount('sse');
    assert.equal((await call('GET', `/api/v1/tasks/${started.body.task_id}/events`, { token: other.token })).status, 404);
  });

  it('streams of a canceled and a timed-out task end cleanly with their status', async () => {
    const canceled = await call('POST', '/api/v1/tasks', { token, body: { capability: 'pythonExec', input: { code: 'import time\nprint("working", flush=True)\ntime.sleep(60)' }, mode: 'async' } });
    const { events } = await openEvents(`${platform.url}/api/v1/tasks/${canceled.body.task_id}/events`, { token });
    const seen: SseEvent[] = [];
    const done = (async () => { for await (const e of events) { seen.push(e); if (e.event === 'stdout') await call('POST', `/api/v1/tasks/${canceled.body.task_id}/cancel`, { token }); } })();
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`no end: ${seen.map((e) => e.event)}`)), 30_000))]);
    assert.equal(seen[seen.length - 1].event, 'result');
    assert.equal(seen[seen.length - 1].data.status, 'canceled');

    const timedOut = await collect((await openEvents(`${platform.url}/api/v1/tasks`, {
      method: 'POST', token, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ capability: 'pythonExec', input: { code: 'print("before", flush=True)\nwhile True: pass' }, timeout_ms: 1500 }),
    })).events);
    assert.equal(text(timedOut), 'before\n');
    assert.equal(timedOut[timedOut.length - 1].data.status, 'timeout');
  });

  it('POST /commands/terminal and runCode in a session stream too; an error ends the stream with its status', async () => {
    const term = await collect((await openEvents(`${platform.url}/api/v1/commands/terminal`, {
      method: 'POST', token, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'echo one; sleep 2; echo two >&2' }),
    })).events);
    assert.equal(text(term), 'one\n');
    assert.equal(text(term, 'stderr'), 'two\n');
    const result = term[term.length - 1];
    assert.equal(result.event, 'result');
    const sid = result.data.session_id;
    assert.equal(result.data.stdout, 'one\n');

    const cell = await collect((await openEvents(`${platform.url}/api/v1/commands/code`, {
      method: 'POST', token, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_id: sid, code: 'for i in range(3): print(i, flush=True)\n"end"' }),
    })).events);
    assert.equal(text(cell), '0\n1\n2\n');
    assert.equal(cell[cell.length - 1].data.results[0].text, "'end'");

    const missing = await collect((await openEvents(`${platform.url}/api/v1/commands/terminal`, {
      method: 'POST', token, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'true', session_id: 'sess_never_made' }),
    })).events);
    assert.equal(missing[missing.length - 1].event, 'error');
    assert.equal(missing[missing.length - 1].data.status, 404);
    assert.equal(missing[missing.length - 1].data.body.code, 'session_not_found');
    await call('DELETE', `/api/v1/sessions/${sid}`, { token });
  });

  it('MCP: a call with a progress token gets notifications/progress carrying the output as it is written', async () => {
    const client = new Client({ name: 'durabox-progress-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${platform.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    try {
      const progress: Array<{ message?: string; at: number }> = [];
      const r = await client.callTool({ name: 'pythonExec', arguments: { code: SLOW_PRINT } }, undefined, {
        onprogress: (p) => progress.push({ message: p.message, at: Date.now() }),
        timeout: 60_000,
      });
      const done = Date.now();
      assert.ok(!r.isError);
      assert.equal((r.structuredContent as { output: string }).output, 'first\nlast\n');
      assert.equal(progress[0]?.message, 'first\n');
      assert.ok(done - progress[0].at >= 2000, 'the progress came while the code ran');
      const cell = await client.callTool({ name: 'runCode', arguments: { language: 'bash', code: 'echo streamed' } }, undefined, { onprogress: (p) => progress.push({ message: p.message, at: Date.now() }) });
      assert.ok(!cell.isError);
      assert.equal(progress[progress.length - 1].message, 'streamed\n');
    } finally {
      await client.close();
    }
  });
});
