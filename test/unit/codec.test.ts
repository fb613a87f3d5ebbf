import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { ENCRYPTED_ENCODING, EncryptionCodec, PlainPayloadRefused, payloadKeyId } from '../../temporal/codec.js';
import { ConfigError, loadApiSettings } from '../../config/index.js';

const text = (b: Uint8Array | null | undefined) => new TextDecoder().decode(b ?? new Uint8Array());

describe('payload encryption codec', () => {
  const key = randomBytes(32);
  const codec = new EncryptionCodec(key);
  const payload = defaultPayloadConverter.toPayload({ code: 'print("secret-marker")', output: 'secret-marker\n' });

  it('seals a payload so neither its data nor its metadata shows the plaintext, and opens it back exactly', async () => {
    const [sealed] = await codec.encode([payload]);
    assert.equal(text(sealed.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(sealed.metadata!['encryption-key-id']), payloadKeyId(key));
    assert.ok(!Buffer.from(sealed.data!).toString('latin1').includes('secret-marker'));
    assert.ok(!text(sealed.metadata!.encoding).includes('json'), 'the original encoding is sealed too');
    const [opened] = await codec.decode([sealed]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened), { code: 'print("secret-marker")', output: 'secret-marker\n' });
  });

  it('gives the same payload a different ciphertext each time (a fresh IV)', async () => {
    const [a] = await codec.encode([payload]);
    const [b] = await codec.encode([payload]);
    assert.notDeepEqual(Buffer.from(a.data!), Buffer.from(b.data!));
  });

  it('refuses a tampered payload', async () => {
    const [sealed] = await codec.encode([payload]);
    const data = Buffer.from(sealed.data!);
    data[20] ^= 1;
    await assert.rejects(codec.decode([{ ...sealed, data }]), /auth/i);
  });

  it('refuses a payload without the seal; with DURABOX_PAYLOAD_ACCEPT_PLAIN, passes one written before encryption through unchanged', async () => {
    await assert.rejects(codec.decode([payload]), PlainPayloadRefused);
    const [same] = await new EncryptionCodec(key, [], true).decode([payload]);
    assert.deepEqual(same, payload);
    assert.equal(loadApiSettings({ DURABOX_HASH_KEY: 'k', DURABOX_PAYLOAD_KEY: key.toString('base64'), DURABOX_PAYLOAD_ACCEPT_PLAIN: 'true' }).payloadKeys?.acceptPlain, true);
    assert.equal(loadApiSettings({ DURABOX_HASH_KEY: 'k', DURABOX_PAYLOAD_KEY: key.toString('base64') }).payloadKeys?.acceptPlain, undefined);
  });

  it('after a rotation, opens what the old key sealed; without the old key it names the key id that is missing', async () => {
    const [old] = await new EncryptionCodec(key).encode([payload]);
    const rotated = new EncryptionCodec(randomBytes(32), [key]);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([old]))[0]), defaultPayloadConverter.fromPayload(payload));
    await assert.rejects(new EncryptionCodec(randomBytes(32)).decode([old]), new RegExp(`no payload key with id ${payloadKeyId(key)}`));
  });

  it('takes DURABOX_PAYLOAD_KEY as 32 bytes of base64 and names the setting when it is anything else', () => {
    const good = randomBytes(32).toString('base64');
    assert.deepEqual(loadApiSettings({ DURABOX_PAYLOAD_KEY: good }).payloadKeys, { current: good, old: [] });
    assert.equal(loadApiSettings({}).payloadKeys, undefined);
    for (const bad of ['short', randomBytes(16).toString('base64'), 'not base64 at all!!']) {
      assert.throws(() => loadApiSettings({ DURABOX_PAYLOAD_KEY: bad }), (e: Error) => e instanceof ConfigError && /DURABOX_PAYLOAD_KEY/.test(e.message));
    }
    assert.throws(() => loadApiSettings({ DURABOX_PAYLOAD_OLD_KEYS: good }), /without DURABOX_PAYLOAD_KEY/);
  });
});
