// The host gateway's pure logic: which polls a host may make, which task tokens it may report on, and what
// the host CA signs.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { X509Certificate } from 'node:crypto';
import proto from '@temporalio/proto';
import { bindPollAnswer, pollRefusal, reportRefusal } from '../../gateway/host-gateway.js';
import { TaskTokenBindings, attemptTtlMs } from '../../gateway/task-tokens.js';
import { CertificateRequestInvalid, createHostRequest, credentialMark, hostOfCertificate, HostCa } from '../../temporal/certs.js';
import { hostTaskQueue, runtimeTaskQueue } from '../../contract/queues.js';

const { temporal } = proto;

/** A unary gRPC request body: the 5-byte prefix (compressed flag, length), then the message. */
function framed(req: { namespace: string; queue: string; identity: string }, gzip = false): Buffer {
  return frame(Buffer.from(temporal.api.workflowservice.v1.PollActivityTaskQueueRequest.encode({
    namespace: req.namespace, taskQueue: { name: req.queue }, identity: req.identity,
  }).finish()), gzip);
}

function frame(message: Buffer, gzip = false): Buffer {
  const body = gzip ? gzipSync(message) : message;
  const prefix = Buffer.alloc(5);
  prefix[0] = gzip ? 1 : 0;
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

describe('host gateway: polls', () => {
  const host = 'wrk_a';
  const refusal = (req: { namespace?: string; queue: string; identity?: string }, headers = {}) =>
    pollRefusal(framed({ namespace: req.namespace ?? 'default', queue: req.queue, identity: req.identity ?? host }), headers, host, 'default');

  it('lets a host poll the shared runtime queues and its own queue', () => {
    assert.equal(refusal({ queue: runtimeTaskQueue('python') }), undefined);
    assert.equal(refusal({ queue: runtimeTaskQueue('terminal') }), undefined);
    assert.equal(refusal({ queue: hostTaskQueue(host) }), undefined);
  });

  it("refuses another host's queue, the control queue, unknown runtimes, another namespace and another identity", () => {
    assert.match(refusal({ queue: hostTaskQueue('wrk_b') })!, /not served by host wrk_a/);
    assert.match(refusal({ queue: 'durabox-control' })!, /not served/);
    assert.match(refusal({ queue: runtimeTaskQueue('gpu') })!, /not served/);
    assert.match(refusal({ queue: hostTaskQueue(host), namespace: 'other' })!, /namespace "other"/);
    assert.match(refusal({ queue: hostTaskQueue(host), identity: 'wrk_b' })!, /under its own id/);
  });

  it('reads a gzip-compressed request, and refuses what is not exactly one message', () => {
    const ok = framed({ namespace: 'default', queue: hostTaskQueue(host), identity: host }, true);
    assert.equal(pollRefusal(ok, { 'grpc-encoding': 'gzip' }, host, 'default'), undefined);
    assert.match(pollRefusal(ok, {}, host, 'default')!, /not one gRPC message/);
    const two = Buffer.concat([framed({ namespace: 'default', queue: hostTaskQueue(host), identity: host }), framed({ namespace: 'default', queue: 'x', identity: host })]);
    assert.match(pollRefusal(two, {}, host, 'default')!, /not one gRPC message/);
    assert.match(pollRefusal(Buffer.from([0, 0, 0]), {}, host, 'default')!, /not one gRPC message/);
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 0, 3]), Buffer.from([0xff, 0xff, 0xff])]);
    assert.match(pollRefusal(garbage, {}, host, 'default')!, /does not decode/);
  });

  it('refuses a small compressed request that inflates past its bound', () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    const prefix = Buffer.alloc(5);
    prefix[0] = 1;
    prefix.writeUInt32BE(bomb.length, 1);
    assert.ok(bomb.length < 64 * 1024, 'the compressed body passes the size check');
    assert.match(pollRefusal(Buffer.concat([prefix, bomb]), { 'grpc-encoding': 'gzip' }, host, 'default')!, /does not inflate within its bound/);
  });
});

describe('host gateway: task tokens', () => {
  const t = (s: string) => Buffer.from(s);
  // protobufjs takes a number where its types say Long.
  const seconds = (n: number) => ({ seconds: n }) as unknown as proto.google.protobuf.IDuration;
  let clock = 1_000_000;
  const now = () => clock;

  it('knows which host a token went to, until the attempt ends or times out', () => {
    const tokens = new TaskTokenBindings(10, now);
    tokens.bind(t('a1'), 'wrk_a', 5000);
    assert.equal(tokens.holderOf(t('a1')), 'wrk_a');
    assert.equal(tokens.holderOf(t('never handed out')), undefined);
    tokens.release(t('a1'));
    assert.equal(tokens.holderOf(t('a1')), undefined);
    tokens.bind(t('a2'), 'wrk_a', 5000);
    clock += 5001;
    assert.equal(tokens.holderOf(t('a2')), undefined, 'timed out');
    tokens.bind(t('a3'), 'wrk_a', 1000);
    clock += 2000;
    tokens.sweep();
    assert.equal(tokens.size, 0);
  });

  it('holds at most maxTokens: the host holding the most loses its oldest first', () => {
    const tokens = new TaskTokenBindings(4, now);
    tokens.bind(t('b1'), 'wrk_b', 60_000);
    for (const n of [1, 2, 3, 4, 5]) tokens.bind(t(`a${n}`), 'wrk_a', 60_000);
    assert.equal(tokens.size, 4);
    assert.equal(tokens.holderOf(t('b1')), 'wrk_b', "a hoarding host does not push out another host's token");
    assert.equal(tokens.holderOf(t('a1')), undefined);
    assert.equal(tokens.holderOf(t('a2')), undefined);
    assert.equal(tokens.holderOf(t('a5')), 'wrk_a');
  });

  it('lets a report through only from the host the token went to, in the namespace, under its own name', () => {
    const tokens = new TaskTokenBindings(10, now);
    tokens.bind(t('a1'), 'wrk_a', 60_000);
    const report = { taskToken: t('a1'), identity: 'wrk_a', namespace: 'default' };
    assert.equal(reportRefusal(report, 'wrk_a', 'default', tokens), undefined);
    assert.match(reportRefusal({ ...report, identity: 'wrk_b' }, 'wrk_b', 'default', tokens)!, /not handed to host wrk_b/);
    assert.match(reportRefusal(report, 'wrk_b', 'default', tokens)!, /under its own id \(wrk_b\)/);
    assert.match(reportRefusal({ ...report, namespace: 'other' }, 'wrk_a', 'default', tokens)!, /namespace "other"/);
    assert.match(reportRefusal({ ...report, taskToken: new Uint8Array() }, 'wrk_a', 'default', tokens)!, /no task token/);
    assert.match(reportRefusal({ ...report, taskToken: t('forged') }, 'wrk_a', 'default', tokens)!, /not handed/);
  });

  it('binds the token of a poll answer, plain or gzip-compressed, for its timeouts', () => {
    const tokens = new TaskTokenBindings(10, now);
    const answer = (token: string) => Buffer.from(temporal.api.workflowservice.v1.PollActivityTaskQueueResponse.encode({
      taskToken: t(token), startToCloseTimeout: seconds(30), scheduleToCloseTimeout: seconds(600), scheduledTime: seconds(Math.floor(clock / 1000)),
    }).finish());
    assert.equal(bindPollAnswer(frame(answer('p1')), {}, 'wrk_a', tokens), undefined);
    assert.equal(bindPollAnswer(frame(answer('p2'), true), { 'grpc-encoding': 'gzip' }, 'wrk_a', tokens), undefined);
    assert.equal(tokens.holderOf(t('p1')), 'wrk_a');
    assert.equal(tokens.holderOf(t('p2')), 'wrk_a');
    assert.equal(bindPollAnswer(frame(Buffer.alloc(0)), {}, 'wrk_a', tokens), undefined, 'a poll that found no task');
    assert.equal(bindPollAnswer(Buffer.alloc(0), {}, 'wrk_a', tokens), undefined);
    assert.equal(tokens.size, 2);
    assert.match(bindPollAnswer(frame(Buffer.from([0xff, 0xff, 0xff])), {}, 'wrk_a', tokens)!, /does not decode/);
    assert.match(bindPollAnswer(frame(answer('p3'), true), {}, 'wrk_a', tokens)!, /not one gRPC message/);
  });

  it('keeps a token for its start-to-close timeout, cut short by what is left of schedule-to-close, plus grace', () => {
    const at = 1_000_000_000;
    assert.equal(attemptTtlMs({ startToCloseTimeout: { seconds: 30 } }, at, 60_000, 1), 90_000);
    assert.equal(attemptTtlMs({ startToCloseTimeout: { seconds: 300 }, scheduleToCloseTimeout: { seconds: 100 }, scheduledTime: { seconds: at / 1000 - 40 } }, at, 60_000, 1), 120_000);
    assert.equal(attemptTtlMs({ scheduleToCloseTimeout: { seconds: 100 } }, at, 0, 1), 100_000);
    assert.equal(attemptTtlMs({}, at, 5, 1000), 1005);
  });
});

describe('host CA', () => {
  let ca: HostCa;
  before(async () => {
    // A data dir that does not exist yet, as on an API's first start.
    const dir = join(mkdtempSync(join(tmpdir(), 'durabox-ca-')), 'data');
    ca = await HostCa.load({ cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') }, true);
  });

  it('signs a host for its own worker id and credential, whatever the request asks for', async () => {
    const { csr } = await createHostRequest('wrk_admin_please');
    const pem = await ca.issueHost(csr, 'wrk_a', 'hash-of-secret');
    const cert = new X509Certificate(pem);
    assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey), 'signed by the CA');
    assert.equal(cert.ca, false);
    assert.match(cert.subject, /CN=wrk_a/);
    assert.doesNotMatch(cert.subject, /wrk_admin_please/);
    assert.match(cert.subject, new RegExp(`OU=${credentialMark('hash-of-secret')}`));
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'client authentication only');
    assert.deepEqual(hostOfCertificate({ CN: 'wrk_a', OU: credentialMark('hash-of-secret') }), { workerId: 'wrk_a', mark: credentialMark('hash-of-secret') });
  });

  it('refuses a request that is not PEM, or not signed by its own key', async () => {
    await assert.rejects(ca.issueHost('not a request', 'wrk_a', 'h'), CertificateRequestInvalid);
    const { csr } = await createHostRequest('wrk_a');
    const body = csr.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    const der = Buffer.from(body, 'base64');
    der[der.length - 5] ^= 0xff; // the signature's last bytes
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----`;
    await assert.rejects(ca.issueHost(tampered, 'wrk_a', 'h'), CertificateRequestInvalid);
  });

  it('reads back the CA it made: the same certificate, and a key that still signs for it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'durabox-ca-')), 'data');
    const files = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
    const made = await HostCa.load(files, true);
    const again = await HostCa.load(files);
    assert.equal(again.certPem, made.certPem);
    const pem = await again.issueHost((await createHostRequest('wrk_a')).csr, 'wrk_a', 'h');
    assert.ok(new X509Certificate(pem).verify(new X509Certificate(made.certPem).publicKey));
  });

  it('names no host in a certificate without exactly one worker id and one credential mark', () => {
    assert.equal(hostOfCertificate(undefined), undefined);
    assert.equal(hostOfCertificate({ CN: 'wrk_a' }), undefined);
    assert.equal(hostOfCertificate({ CN: ['wrk_a', 'wrk_b'], OU: 'm' }), undefined);
  });
});
