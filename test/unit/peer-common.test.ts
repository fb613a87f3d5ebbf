import assert from 'node:assert/strict';
import { PEER_CREDENTIAL_HEADERS, peerStringMap, sessionTemplateOf, toPeerPath, toSessionPath } from '../../peer/common.js';

describe('peers: what OpenSandbox and E2B share', () => {
  it('maps the peers\' default template names to the built-in terminal template, and keeps any other name', () => {
    for (const name of [undefined, '', 'base', 'code-interpreter-v1', 'python', 'terminal', 'python:latest']) assert.equal(sessionTemplateOf(name), undefined, String(name));
    assert.equal(sessionTemplateOf('browser'), 'browser');
    assert.equal(sessionTemplateOf('my-app:latest'), 'my-app');
  });

  it('names the peer home /home/user as /workspace and back, and leaves other paths alone', () => {
    assert.equal(toSessionPath('/home/user/a.txt'), '/workspace/a.txt');
    assert.equal(toSessionPath('/home/user'), '/workspace');
    assert.equal(toSessionPath('a.txt', '/home/user/src'), '/workspace/src/a.txt');
    assert.equal(toSessionPath('/home/username/x'), '/home/username/x');
    assert.equal(toSessionPath('/tmp/x'), '/tmp/x');
    assert.equal(toPeerPath('/workspace/a.txt'), '/home/user/a.txt');
    assert.equal(toPeerPath('/workspacex/a'), '/workspacex/a');
    assert.equal(toPeerPath('/workspace/a', '/workspace'), '/workspace/a');
  });

  it('bounds metadata and variables: 64 entries, names to 256 characters, values to 4 KiB', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    assert.equal(peerStringMap.safeParse(many).success, false);
    assert.equal(peerStringMap.safeParse(Object.fromEntries(Object.entries(many).slice(0, 64))).success, true);
    assert.equal(peerStringMap.safeParse({ k: 'x'.repeat(4097) }).success, false);
    assert.equal(peerStringMap.safeParse({ ['k'.repeat(257)]: 'v' }).success, false);
    assert.equal(peerStringMap.safeParse({ k: 1 }).success, false);
  });

  it('lists every header a peer SDK carries a credential in, lower case, for the port proxy to drop', () => {
    for (const h of ['open-sandbox-api-key', 'open-sandbox-execd-token', 'x-api-key', 'x-access-token', 'e2b-traffic-access-token']) assert.ok(PEER_CREDENTIAL_HEADERS.includes(h), h);
    for (const h of PEER_CREDENTIAL_HEADERS) assert.equal(h, h.toLowerCase());
  });
});
