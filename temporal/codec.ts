// Payload encryption: every payload durabox hands Temporal (task inputs and results, session commands
// and output, memos) is sealed with AES-256-GCM under a key the Temporal server never sees. Histories in
// Temporal's database and in its UI show ciphertext; the Temporal UI decodes through the API's codec
// endpoint for logged-in admins. Search attributes stay plain: Temporal must index them, and they hold
// only ids, names and error codes.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { PayloadKeys } from '../config/index.js';

const { temporal } = proto;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : '');

/** A key's public name: who holds several keys (a rotation) knows which one sealed a payload. */
export function payloadKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export class EncryptionCodec implements PayloadCodec {
  private readonly keys = new Map<string, Buffer>();
  private readonly currentId: string;

  /**
   * `current` seals; it and `old` ones open (so a rotation keeps old histories readable). A payload
   * without the seal is refused unless `acceptPlain`.
   */
  constructor(private readonly current: Buffer, old: Buffer[] = [], private readonly acceptPlain = false) {
    for (const k of [current, ...old]) {
      if (k.length !== 32) throw new Error('a payload key is 32 bytes (AES-256)');
      this.keys.set(payloadKeyId(k), k);
    }
    this.currentId = payloadKeyId(current);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current, iv);
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID]: utf8(this.currentId) }, data: sealed };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) {
        // Payloads written before encryption was turned on pass through only where the operator says so.
        if (this.acceptPlain) return p;
        throw new PlainPayloadRefused(`a payload that is not sealed (encoding ${text(p.metadata?.encoding) || 'none'}): refused, as DURABOX_PAYLOAD_ACCEPT_PLAIN is off`);
      }
      const id = text(p.metadata?.[KEY_ID]);
      const key = this.keys.get(id);
      if (!key) throw new Error(`no payload key with id ${id}: add the key that sealed it to DURABOX_PAYLOAD_OLD_KEYS`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** A payload without the seal, where only sealed ones are accepted. */
export class PlainPayloadRefused extends Error {}

export function codecOf(keys: PayloadKeys | undefined, opts: { acceptPlain?: boolean } = {}): EncryptionCodec | undefined {
  if (!keys) return undefined;
  return new EncryptionCodec(Buffer.from(keys.current, 'base64'), keys.old.map((k) => Buffer.from(k, 'base64')), opts.acceptPlain ?? keys.acceptPlain ?? false);
}

/** How a Temporal client or worker is told to seal and open payloads. */
export function dataConverterOf(keys: PayloadKeys | undefined): { payloadCodecs: PayloadCodec[] } | undefined {
  const codec = codecOf(keys);
  return codec ? { payloadCodecs: [codec] } : undefined;
}
