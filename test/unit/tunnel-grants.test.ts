import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { openTunnelGrant, publicTunnelKey, signTunnelGrant, tunnelKeys } from '../../tunnel/grants.js';
import { openLink, signLink } from '../../tunnel/links.js';

describe('tunnel grants (API-signed, host-checked)', () => {
  const keys = tunnelKeys('a hash key');
  const pub = publicTunnelKey(keys.publicKey);
  const claims = { c: 'container-1', h: 'host-a', t: { port: 8080 }, x: Date.now() + 30_000 };

  it('every API process derives the same key from DURABOX_HASH_KEY; another key is another pair', () => {
    assert.equal(tunnelKeys('a hash key').publicKey, keys.publicKey);
    assert.notEqual(tunnelKeys('another key').publicKey, keys.publicKey);
  });

  it('opens a genuine grant for its own host only, before it expires', () => {
    const g = signTunnelGrant(keys.privateKey, claims);
    assert.deepEqual(openTunnelGrant(pub, g, 'host-a'), claims);
    assert.equal(openTunnelGrant(pub, g, 'host-b'), 'a grant for another host');
    assert.equal(openTunnelGrant(pub, signTunnelGrant(keys.privateKey, { ...claims, x: Date.now() - 1 }), 'host-a'), 'an expired grant');
    assert.equal(openTunnelGrant(undefined, g, 'host-a'), 'this host has not heard from the API yet');
  });

  it('refuses a grant signed by any other key, or changed after signing', () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    assert.equal(openTunnelGrant(pub, signTunnelGrant(other, claims), 'host-a'), 'a grant with a bad signature');
    const g = signTunnelGrant(keys.privateKey, claims);
    const [v, body, sig] = g.split('.');
    const changed = Buffer.from(JSON.stringify({ ...claims, c: 'container-2' })).toString('base64url');
    assert.equal(openTunnelGrant(pub, `${v}.${changed}.${sig}`, 'host-a'), 'a grant with a bad signature');
    assert.equal(openTunnelGrant(pub, `${v}.${body}`, 'host-a'), 'not a grant');
    assert.equal(openTunnelGrant(pub, 42, 'host-a'), 'not a grant');
    assert.equal(openTunnelGrant(pub, 'x'.repeat(5000), 'host-a'), 'not a grant');
  });

  it('refuses well-signed claims of the wrong shape (an unknown target)', () => {
    const g = signTunnelGrant(keys.privateKey, { ...claims, t: { file: '/etc/shadow' } } as never);
    assert.equal(openTunnelGrant(pub, g, 'host-a'), 'not a grant');
  });
});

describe('signed links', () => {
  const claims = { a: 'acc_1', s: 'sess_1', p: 3000, x: Date.now() + 60_000 };

  it('opens a genuine, current link; refuses a changed, foreign or expired one', () => {
    const link = signLink('k', claims);
    assert.deepEqual(openLink('k', link), claims);
    assert.equal(openLink('other key', link), undefined);
    const [v, , mac] = link.split('.');
    assert.equal(openLink('k', `${v}.${Buffer.from(JSON.stringify({ ...claims, p: 22 })).toString('base64url')}.${mac}`), undefined);
    assert.equal(openLink('k', signLink('k', { ...claims, x: Date.now() - 1 })), undefined);
    assert.equal(openLink('k', undefined), undefined);
    assert.equal(openLink('k', 'l1.a.b'), undefined);
  });
});
