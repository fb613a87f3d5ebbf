// OpenTelemetry traces end to end: a platform of its own with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a
// receiver this suite starts (the shared platform runs without tracing, as by default). A caller's
// `traceparent` is continued by the API's request span, through the workflow start, the workflow and its
// activity on the worker, down to the span of the work inside the container.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadTracingSettings } from '../../config/index.js';
import { PlatformHarness } from '../../harness/platform.js';
import { startTracing, type Tracing } from '../../telemetry/tracing.js';
import { OtlpReceiver, type ReceivedSpan } from '../../harness/otlp-receiver.js';

const SERVER = 2;

/** A fresh W3C trace context, as a caller's own tracer would send it. */
function callerContext(): { traceId: string; parentId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` };
}

/** The span and its ancestors within the trace, nearest first. */
function ancestry(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain = [span];
  for (let s = byId.get(span.parentSpanId ?? ''); s; s = byId.get(s.parentSpanId ?? '')) chain.push(s);
  return chain;
}

describe('traces (OpenTelemetry over OTLP, from the HTTP request to the container)', function () {
  this.timeout(180_000);
  const receiver = new OtlpReceiver();
  const traced = new PlatformHarness();
  let tracing: Tracing | undefined;
  let token: string;

  before(async function () {
    this.timeout(180_000);
    await receiver.start();
    // The API runs in this process: its tracing is made here, as api/main.ts makes it from the environment.
    tracing = startTracing(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }), 'durabox-api');
    await traced.start({ tracing });
    // The worker is its own process, configured as an operator would: by the standard variables.
    await traced.startWorker('w-traced', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' });
    token = (await traced.otherAccount('traces')).token;
  });

  after(async function () {
    this.timeout(60_000);
    await traced.stop();
    await tracing?.shutdown();
    await receiver.stop();
  });

  async function post(path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const r = await fetch(`${traced.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: r.status, text: await r.text() };
  }

  /** Waits until the trace holds a span that `done` accepts (the worker's batch goes out within ~100 ms). */
  async function traceUntil(traceId: string, done: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
    const until = Date.now() + 20_000;
    for (;;) {
      await tracing!.flush();
      const spans = receiver.ofTrace(traceId);
      if (done(spans)) return spans;
      if (Date.now() > until) {
        throw new Error(`the trace never completed; spans: ${spans.map((s) => `${s.service}/${s.name}`).join(', ') || 'none'}; refused: ${receiver.refused.join('; ') || 'none'}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const execSpan = (spans: ReceivedSpan[]) => spans.find((s) => s.name === 'sandbox.exec');

  it('a pythonExec over REST is one trace: HTTP request, workflow start and run, activity, container', async () => {
    const caller = callerContext();
    const marker = `traced-${randomBytes(4).toString('hex')}`;
    const r = await post('/api/v1/tasks', { capability: 'pythonExec', input: { code: `print("${marker}")` }, mode: 'sync' }, { traceparent: caller.traceparent });
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).result.output, `${marker}\n`);

    const spans = await traceUntil(caller.traceId, (s) => execSpan(s) !== undefined && s.some((x) => x.name.startsWith('HTTP POST') && x.kind === SERVER));
    const exec = execSpan(spans)!;
    const chain = ancestry(exec, spans);
    const root = chain[chain.length - 1];

    // One unbroken chain from the container up to the request, which continues the caller's span.
    assert.deepEqual(chain.map((s) => `${s.service} ${s.name}`), [
      'durabox-worker sandbox.exec',
      'durabox-worker RunActivity:pythonExec',
      'durabox-api StartActivity:pythonExec',
      'durabox-api RunWorkflow:taskWorkflow',
      'durabox-api StartWorkflow:taskWorkflow',
      'durabox-api HTTP POST /api/v1/tasks',
    ]);
    assert.equal(root.parentSpanId, caller.parentId);
    assert.equal(root.kind, SERVER);
    assert.equal(root.attributes['http.request.method'], 'POST');
    assert.equal(root.attributes['http.route'], '/api/v1/tasks');
    assert.equal(root.attributes['http.response.status_code'], 200);
    assert.equal(root.statusCode, 0, 'a 200 is no error');

    assert.equal(exec.attributes['durabox.runtime'], 'python');
    assert.equal(exec.attributes['durabox.sandbox.request'], 'code');
    assert.match(String(exec.attributes['container.id']), /^[0-9a-f]{12}$/);
    assert.equal(exec.attributes['process.exit.code'], 0);
    const activity = chain[1];
    assert.equal(activity.resource['service.instance.id'], traced.workerId('w-traced'), 'the worker names itself');
    assert.match(String(activity.attributes.temporalWorkflowId), /^task_[0-9a-f]{32}$/);

    // Spans name the work, never carry it: the program's text is in none of them.
    assert.ok(!JSON.stringify(spans).includes(marker), 'the program text appears in a span');
  });

  it('an MCP tools/call continues the trace through its tool span down to the container', async () => {
    const caller = callerContext();
    const r = await post('/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'pythonExec', arguments: { code: 'import sys; sys.exit(3)' } } }, {
      traceparent: caller.traceparent, accept: 'application/json, text/event-stream',
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).result.structuredContent.exit_code, 3);

    const spans = await traceUntil(caller.traceId, (s) => execSpan(s) !== undefined && s.some((x) => x.name === 'HTTP POST /mcp'));
    const exec = execSpan(spans)!;
    const names = ancestry(exec, spans).map((s) => s.name);
    assert.deepEqual(names.slice(-3), ['StartWorkflow:taskWorkflow', 'tools/call pythonExec', 'HTTP POST /mcp']);
    assert.equal(exec.attributes['process.exit.code'], 3);
  });

  it('a terminal command reaches its session container within the same trace', async () => {
    const caller = callerContext();
    const r = await post('/api/v1/commands/terminal', { command: 'echo traced' }, { traceparent: caller.traceparent });
    assert.equal(r.status, 200, r.text);
    // A workflow's run span goes out when the run ends: for a session, when it is closed.
    const closed = await fetch(`${traced.url}/api/v1/sessions/${JSON.parse(r.text).session_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(closed.status, 204);

    const reachesRequest = (spans: ReceivedSpan[]) => {
      const exec = execSpan(spans);
      return exec !== undefined && ancestry(exec, spans).at(-1)!.name === 'HTTP POST /api/v1/commands/terminal';
    };
    const spans = await traceUntil(caller.traceId, reachesRequest);
    const exec = execSpan(spans)!;
    const chain = ancestry(exec, spans);
    assert.equal(chain.at(-1)!.parentSpanId, caller.parentId);
    assert.ok(chain.some((s) => s.name === 'RunWorkflow:sessionWorkflow'), chain.map((s) => s.name).join(' < '));
    assert.equal(exec.attributes['durabox.runtime'], 'terminal');
    assert.equal(exec.attributes['durabox.sandbox.request'], 'command');
    assert.equal(exec.attributes['process.exit.code'], 0);
  });
});
