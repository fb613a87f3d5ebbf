// The host gateway's two pieces of pure logic: which polls a host may make, and what the host CA signs.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { X509Certificate } from 'node:crypto';
import proto from '@temporalio/proto';
import { pollRefusal } from '../../gateway/host-gateway.js';
import { CertificateRequestInvalid, createHostRequest, credentialMark, hostOfCertificate, HostCa } from '../../gateway/certs.js';
import { hostTaskQueue, runtimeTaskQueue } from '../../contract/queues.js';

const { temporal } = proto;

/** A unary gRPC request body: the 5-byte prefix (compressed flag, length), then the message. */
function framed(req: { namespace: string; queue: string; identity: string }, gzip = false): Buffer {
  const message = Buffer.from(temporal.api.workflowservice.v1.PollActivityTaskQueueRequest.encode({
    namespace: req.namespace, taskQueue: { name: req.queue }, identity: req.identity,
  }).finish());
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
