// prepareNamespace against a real (local) Temporal server on namespaces registered moments earlier: the
// server answers NotFound to some calls for a while after it missed a lookup of the name, and preparing
// waits that out instead of failing the control plane's start.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { msToTs } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadTemporalSettings, type TemporalSettings } from '../../config/index.js';
import { SEARCH_ATTRIBUTES } from '../../contract/search-attributes.js';
import { prepareNamespace } from '../../temporal/connection.js';
import { startTestEnv } from './support/env.js';

describe('prepareNamespace', function () {
  this.timeout(60_000);
  let env: TestWorkflowEnvironment;

  before(async function () {
    this.timeout(120_000);
    env = await startTestEnv();
  });
  after(async () => env?.teardown());

  const settings = (namespace: string): TemporalSettings => ({ ...loadTemporalSettings({}), namespace, retentionDays: 3 });

  async function assertPrepared(namespace: string): Promise<void> {
    const ns = await env.nativeConnection.workflowService.describeNamespace({ namespace });
    assert.equal(Number(ns.config?.workflowExecutionRetentionTtl?.seconds), 3 * 86400, 'retention set');
    const attrs = await env.nativeConnection.operatorService.listSearchAttributes({ namespace });
    for (const a of SEARCH_ATTRIBUTES) assert.ok(a.name in (attrs.customAttributes ?? {}), `search attribute ${a.name} registered`);
  }

  it('prepares a namespace an operator registered just now, after a lookup of it had missed', async () => {
    const namespace = `fresh-${randomUUID()}`;
    const conn = env.nativeConnection;
    // A process that looked the name up before it existed (a worker started first) makes the server remember the miss.
    await assert.rejects(conn.operatorService.listSearchAttributes({ namespace }), (e: { code?: number }) => e.code === 5);
    await conn.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(86_400_000) });
    await prepareNamespace(conn, settings(namespace));
    await assertPrepared(namespace);
  });

  it('registers a missing namespace and prepares it at once', async () => {
    const namespace = `fresh-${randomUUID()}`;
    await prepareNamespace(env.nativeConnection, settings(namespace));
    await assertPrepared(namespace);
    // Preparing again (the next start) changes nothing and succeeds.
    await prepareNamespace(env.nativeConnection, settings(namespace));
    await assertPrepared(namespace);
  });
});
