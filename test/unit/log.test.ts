import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { ConfigError, loadLogSettings, loadTemporalSettings } from '../../config/index.js';
import { createLogger } from '../../config/log.js';
import { isOrdinaryOutcome } from '../../contract/errors.js';
import { SdkLogForwarder } from '../../temporal/sdk-log.js';
import { startLine, temporalRouteOf } from '../../workers/runtime-worker.js';

/** A logger whose lines land in `lines`, parsed. */
function capture(level: Parameters<typeof createLogger>[0] = 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const log = createLogger(level, (line) => {
    raw.push(line);
    lines.push(JSON.parse(line));
  });
  return { log, lines, raw };
}

describe('log lines', () => {
  it('are one JSON object per line with level, ISO time, msg and the component', () => {
    const { log, raw, lines } = capture();
    log.child({ component: 'api', worker_id: 'w1' }).info({ request_id: 'r1' }, 'request');
    assert.equal(raw.length, 1);
    assert.ok(raw[0].endsWith('\n') && !raw[0].slice(0, -1).includes('\n'));
    assert.equal(lines[0].level, 'info');
    assert.ok(!Number.isNaN(Date.parse(lines[0].time as string)), 'an ISO time');
    assert.equal(lines[0].msg, 'request');
    assert.equal(lines[0].component, 'api');
    assert.equal(lines[0].worker_id, 'w1');
    assert.equal(lines[0].request_id, 'r1');
  });

  it('leave out what is below their level', () => {
    const { log, lines } = capture('warn');
    log.info('not shown');
    log.debug('not shown either');
    log.warn('shown');
    assert.deepEqual(lines.map((l) => l.msg), ['shown']);
  });

  it('redact secret-bearing keys at the top and nested, whoever logs them', () => {
    const { log, raw } = capture();
    log.info({
      authorization: 'Bearer dbx_top', token: 'dbx_token', password: 'pw-secret',
      headers: { authorization: 'Bearer dbx_nested', cookie: 'durabox_session=abc', 'set-cookie': 'durabox_session=def' },
      req: { headers: { authorization: 'Bearer dbx_deep' } },
      worker: { worker_secret: 'dbxw_secret', start_command: 'DURABOX_WORKER_SECRET=dbxw_cmd npm run worker' },
      env: { DURABOX_PAYLOAD_KEY: 'payload-key', DURABOX_HASH_KEY: 'hash-key' },
      taskToken: 'task-token',
    }, 'careless');
    for (const secret of ['dbx_top', 'dbx_token', 'pw-secret', 'dbx_nested', 'abc', 'def', 'dbx_deep', 'dbxw_secret', 'dbxw_cmd', 'payload-key', 'hash-key', 'task-token']) {
      assert.ok(!raw[0].includes(secret), `${secret} in ${raw[0]}`);
    }
    assert.match(raw[0], /\[redacted\]/);
  });

  it('log an Error under err with its type, message and stack', () => {
    const { log, lines } = capture();
    log.error({ err: new Error('boom') }, 'failed');
    const err = lines[0].err as { type: string; message: string; stack: string };
    assert.equal(err.type, 'Error');
    assert.equal(err.message, 'boom');
    assert.match(err.stack, /^Error: boom\n\s+at /);
  });
});

describe('DURABOX_LOG_LEVEL', () => {
  it('is info by default and takes pino\'s level names in any case', () => {
    assert.equal(loadLogSettings({}).level, 'info');
    assert.equal(loadLogSettings({ DURABOX_LOG_LEVEL: 'DEBUG' }).level, 'debug');
    assert.equal(loadLogSettings({ DURABOX_LOG_LEVEL: 'silent' }).level, 'silent');
  });

  it('refuses an unknown level, naming the variable', () => {
    assert.throws(() => loadLogSettings({ DURABOX_LOG_LEVEL: 'verbose' }), (e) => e instanceof ConfigError && /DURABOX_LOG_LEVEL/.test(e.message));
  });
});

describe('ordinary outcomes', () => {
  it('are the refusals and ends a caller\'s request can meet: timeout, invalid input, a busy session, a cancel', () => {
    for (const code of ['timeout', 'invalid_input', 'session_busy', 'canceled', 'not_found', 'quota_exceeded', 'no_capacity']) assert.ok(isOrdinaryOutcome(code), code);
  });

  it('are not the platform\'s faults: internal, a broken sandbox, a failed execution, a lost host, an unknown code', () => {
    for (const code of ['internal', 'sandbox_broken', 'execution_failed', 'not_ready', 'session_lost', 'nonsense', undefined]) assert.ok(!isOrdinaryOutcome(code), String(code));
  });
});

describe('the Temporal SDK\'s lines', () => {
  it('arrive as JSON with durabox\'s field names, and never with an activity\'s task token', () => {
    const { log, lines } = capture('trace');
    new SdkLogForwarder(log, 'INFO').info('Activity started', { workflowId: 'task_1', runId: 'run', activityType: 'pythonExec', taskQueue: 'q', taskToken: 'secret-token', sdkComponent: 'activity' });
    assert.equal(lines[0].level, 'info');
    assert.equal(lines[0].msg, 'Activity started');
    assert.equal(lines[0].workflow_id, 'task_1');
    assert.equal(lines[0].run_id, 'run');
    assert.equal(lines[0].activity_type, 'pythonExec');
    assert.equal(lines[0].task_queue, 'q');
    assert.equal(lines[0].sdk_component, 'activity');
    assert.ok(!JSON.stringify(lines[0]).includes('secret-token'));
  });

  it('below DURABOX_TEMPORAL_LOG_LEVEL, and the SDK\'s "No activities registered" notice, are dropped', () => {
    const { log, lines } = capture('trace');
    const sdk = new SdkLogForwarder(log, 'WARN');
    sdk.info('Workflow started');
    sdk.warn('No activities registered, not polling for activity tasks');
    sdk.warn('Worker state changed');
    assert.deepEqual(lines.map((l) => l.msg), ['Worker state changed']);
  });

  it('give a user\'s timeout in an activity at info with its code and no stack', () => {
    const { log, lines, raw } = capture();
    const error = ApplicationFailure.create({ type: 'timeout', message: 'execution exceeded timeout_ms=1500', nonRetryable: true });
    new SdkLogForwarder(log, 'WARN').warn('Activity failed', { error, workflowId: 'task_t', durationMs: 1600 });
    assert.equal(lines[0].level, 'info');
    assert.equal(lines[0].error_code, 'timeout');
    assert.equal(lines[0].error_message, 'execution exceeded timeout_ms=1500');
    assert.equal(lines[0].workflow_id, 'task_t');
    assert.ok(!raw[0].includes('stack') && !raw[0].includes('    at '), raw[0]);
  });

  it('give a workflow that failed as its user asked at info, by the code its interceptor attached (the error itself lost its type)', () => {
    const { log, lines, raw } = capture();
    const crossedThreads = structuredClone(ApplicationFailure.create({ type: 'timeout', message: 'timed out' }));
    new SdkLogForwarder(log, 'WARN').warn('Workflow failed', { error: crossedThreads, error_code: 'timeout', workflowId: 'task_w' });
    assert.equal(lines[0].level, 'info');
    assert.equal(lines[0].error_code, 'timeout');
    assert.ok(!raw[0].includes('    at '), raw[0]);
  });

  it('keep a platform fault at warn with its stack: a broken sandbox, a Docker error, a lost host', () => {
    const { log, lines } = capture();
    const sdk = new SdkLogForwarder(log, 'WARN');
    sdk.warn('Activity failed', { error: ApplicationFailure.create({ type: 'sandbox_broken', message: 'the sandbox died' }) });
    sdk.warn('Activity failed', { error: new Error('connect ECONNREFUSED /var/run/docker.sock') });
    sdk.warn('Workflow failed', { error: new Error('the host holding the session is gone'), error_code: 'session_lost' });
    assert.deepEqual(lines.map((l) => l.level), ['warn', 'warn', 'warn']);
    for (const l of lines) assert.match((l.err as { stack: string }).stack, /\n\s+at /);
  });
});

describe("a runtime worker's start line", () => {
  const temporal = loadTemporalSettings({ TEMPORAL_ADDRESS: 'temporal.internal:7233' });

  it('names the host gateway it connects through, not TEMPORAL_ADDRESS', () => {
    const line = startLine('w-1', ['python', 'terminal'], temporalRouteOf(temporal, 'gateway.example:7443'));
    assert.equal(line.msg, 'runtime worker w-1 serving python, terminal on gateway.example:7443 through the host gateway');
    assert.deepEqual(line.fields, { runtimes: ['python', 'terminal'], temporal: 'gateway.example:7443', temporal_via: 'gateway' });
    assert.doesNotMatch(JSON.stringify(line), /temporal\.internal/);
  });

  it('names TEMPORAL_ADDRESS (or its default) without a gateway', () => {
    const line = startLine('w-1', ['python'], temporalRouteOf(temporal, undefined));
    assert.equal(line.msg, 'runtime worker w-1 serving python on temporal.internal:7233');
    assert.deepEqual(line.fields, { runtimes: ['python'], temporal: 'temporal.internal:7233', temporal_via: 'direct' });
    assert.equal(temporalRouteOf(loadTemporalSettings({}), undefined).address, '127.0.0.1:7233');
  });
});
