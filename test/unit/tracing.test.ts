import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import Koa from 'koa';
import { tracingMiddleware } from '../../api/tracing.js';
import { ConfigError, loadTracingSettings } from '../../config/index.js';
import { OtlpReceiver } from '../../harness/otlp-receiver.js';
import { startTracing, type Tracing } from '../../telemetry/tracing.js';
import { tracedClientInterceptors, tracedWorkerOptions } from '../../temporal/tracing.js';

describe('tracing', () => {
  describe('settings from the OTEL_* variables', () => {
    it('is off when no endpoint is set', () => {
      assert.deepEqual(loadTracingSettings({}), { tracesUrl: undefined, serviceName: undefined });
    });

    it('appends v1/traces to OTEL_EXPORTER_OTLP_ENDPOINT, with or without a trailing slash', () => {
      assert.equal(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracesUrl, 'http://collector:4318/v1/traces');
      assert.equal(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example/otlp/' }).tracesUrl, 'https://c.example/otlp/v1/traces');
    });

    it('takes OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, before the general one', () => {
      const s = loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom', OTEL_SERVICE_NAME: 'api-eu-1' });
      assert.deepEqual(s, { tracesUrl: 'http://b:4318/custom', serviceName: 'api-eu-1' });
    });

    it('is off with OTEL_SDK_DISABLED=true whatever else is set', () => {
      assert.equal(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }).tracesUrl, undefined);
    });

    it('refuses an endpoint that is not an http(s) URL, naming the variable', () => {
      assert.throws(() => loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), (e: unknown) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_ENDPOINT/.test(e.message));
      assert.throws(() => loadTracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' }), (e: unknown) => e instanceof ConfigError && /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT/.test(e.message));
    });
  });

  describe('without an endpoint', () => {
    it('installs nothing: no provider, no propagation, no Temporal interceptors', () => {
      assert.equal(startTracing(loadTracingSettings({}), 'durabox-api'), undefined);
      assert.equal(trace.getTracer('t').startSpan('s').isRecording(), false);
      const carrier: Record<string, string> = {};
      propagation.inject(context.active(), carrier);
      assert.deepEqual(carrier, {});
      assert.equal(tracedClientInterceptors(undefined), undefined);
      assert.deepEqual(tracedWorkerOptions(undefined, { workflows: true }), {});
    });
  });

  describe('with an endpoint', () => {
    const receiver = new OtlpReceiver();
    let tracing: Tracing;
    let server: Server;
    let url: string;

    before(async () => {
      await receiver.start();
      tracing = startTracing(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }), 'durabox-api')!;
      const app = new Koa();
      app.use(tracingMiddleware(tracing.tracer));
      app.use(async (ctx) => {
        if (ctx.path === '/healthz') ctx.body = 'ok';
        else if (ctx.path === '/boom') ctx.status = 500;
        else {
          ctx.state.operation = 'createTask';
          ctx.body = { traceparent: (() => { const c: Record<string, string> = {}; propagation.inject(context.active(), c); return c.traceparent; })() };
        }
      });
      server = createServer(app.callback());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await tracing.shutdown();
      await receiver.stop();
    });

    const parent = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

    it('continues the caller\'s traceparent with a server span named after the operation, active in the handler', async () => {
      const r = await fetch(`${url}/api/v1/tasks`, { method: 'POST', headers: { traceparent: `00-${parent.traceId}-${parent.spanId}-01` } });
      const handlerSaw = (await r.json()).traceparent as string;
      await tracing.flush();
      const [span] = receiver.ofTrace(parent.traceId);
      assert.ok(span, 'the span reached the collector');
      assert.equal(span.name, 'HTTP POST /api/v1/tasks');
      assert.equal(span.service, 'durabox-api');
      assert.equal(span.parentSpanId, parent.spanId);
      assert.equal(span.attributes['http.route'], '/api/v1/tasks');
      assert.equal(span.attributes['http.response.status_code'], 200);
      assert.equal(span.attributes['durabox.operation'], 'createTask');
      assert.equal(handlerSaw, `00-${parent.traceId}-${span.spanId}-01`, 'the handler runs inside the request span');
    });

    it('marks a 5xx answer as an error, and leaves probes untraced', async () => {
      await fetch(`${url}/boom`);
      await fetch(`${url}/healthz`);
      await tracing.flush();
      const boom = receiver.spans.find((s) => s.attributes['url.path'] === '/boom');
      assert.equal(boom?.name, 'HTTP GET');
      assert.equal(boom?.statusCode, 2);
      assert.equal(receiver.spans.some((s) => s.attributes['url.path'] === '/healthz'), false);
    });

    it('wires the Temporal interceptors and the workflow span sink', () => {
      assert.equal((tracedClientInterceptors(tracing)?.workflow as unknown[]).length, 1);
      const worker = tracedWorkerOptions(tracing, { workflows: true });
      assert.equal(worker.interceptors?.activity?.length, 1);
      assert.ok(worker.sinks?.exporter);
      assert.equal(tracedWorkerOptions(tracing, { workflows: false }).sinks, undefined);
    });

    it('is installed once per process, and gives the process back its no-op tracer at shutdown', async () => {
      assert.throws(() => startTracing(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }), 'second'), /already installed/);
      assert.equal(trace.getTracer('t').startSpan('s').isRecording(), true);
      await tracing.shutdown();
      assert.equal(trace.getTracer('t').startSpan('s').isRecording(), false);
      const again = startTracing(loadTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }), 'durabox-api');
      assert.ok(again);
      await again.shutdown();
    });
  });
});
