// Per-host certificates. The API holds a small CA: at every start a runtime worker makes a fresh key on
// its host and sends a certificate request with its start report; the API signs it for that worker's id
// and credential (the private key never leaves the host). The host gateway trusts only this CA, and a
// certificate names the credential it was issued under, so deleting or replacing a credential voids it.
import 'reflect-metadata';
import { createHash, createPrivateKey, KeyObject, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** The name hosts check on the gateway's certificate, whatever address they dial. */
export const GATEWAY_SERVER_NAME = 'durabox-host-gateway';
const HOST_CERT_DAYS = 365;

/** The mark of a credential inside a certificate: a hash of its stored (already keyed) secret hash. */
export function credentialMark(secretHash: string): string {
  return createHash('sha256').update(`durabox host certificate:${secretHash}`).digest('hex').slice(0, 32);
}

function randomSerial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

function exportKeyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

function importKeyPem(pem: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }), ALG, false, ['sign']);
}

function days(n: number): Date {
  return new Date(Date.now() + n * 86_400_000);
}

/** A host's side: a fresh key and the request the API signs. */
export async function createHostRequest(workerId: string): Promise<{ csr: string; keyPem: string }> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: [{ CN: [workerId] }], keys, signingAlgorithm: ALG });
  return { csr: csr.toString('pem'), keyPem: exportKeyPem(keys.privateKey) };
}

export class CertificateRequestInvalid extends Error {}

/** Who a client certificate names: the worker id and the mark of the credential it was issued under. */
export function hostOfCertificate(subject: { CN?: string | string[]; OU?: string | string[] } | undefined): { workerId: string; mark: string } | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? undefined : v);
  const workerId = one(subject?.CN);
  const mark = one(subject?.OU);
  return workerId && mark ? { workerId, mark } : undefined;
}

export class HostCa {
  private constructor(readonly certPem: string, private readonly cert: x509.X509Certificate, private readonly key: CryptoKey) {}

  /** Loads the CA from its two files, making both first when `create` is set and neither exists. */
  static async load(files: { cert: string; key: string }, create = false): Promise<HostCa> {
    if (create && !existsSync(files.cert) && !existsSync(files.key)) {
      const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: randomSerial(),
        name: [{ CN: ['durabox host CA'] }],
        notBefore: days(-1),
        notAfter: days(3650),
        keys,
        signingAlgorithm: ALG,
        extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
      });
      mkdirSync(dirname(files.key), { recursive: true });
      mkdirSync(dirname(files.cert), { recursive: true });
      writeFileSync(files.key, exportKeyPem(keys.privateKey), { mode: 0o600 });
      writeFileSync(files.cert, cert.toString('pem'), { mode: 0o644 });
    }
    const certPem = readFileSync(files.cert, 'utf8');
    return new HostCa(certPem, new x509.X509Certificate(certPem), await importKeyPem(readFileSync(files.key, 'utf8')));
  }

  /** Signs a host's request for its worker id and credential; what the request asks for is ignored but its key. */
  async issueHost(csrPem: string, workerId: string, secretHash: string): Promise<string> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw new CertificateRequestInvalid('csr is not a PEM certificate request');
    }
    if (!(await csr.verify().catch(() => false))) throw new CertificateRequestInvalid('csr is not signed by its own key');
    return this.sign(csr.publicKey, [{ CN: [workerId] }, { OU: [credentialMark(secretHash)] }], [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], true),
    ], HOST_CERT_DAYS);
  }

  /** The gateway's own certificate and key, made at its start. */
  async issueGateway(): Promise<{ certPem: string; keyPem: string }> {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    const certPem = await this.sign(keys.publicKey, [{ CN: [GATEWAY_SERVER_NAME] }], [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], true),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: GATEWAY_SERVER_NAME }]),
    ], HOST_CERT_DAYS);
    return { certPem, keyPem: exportKeyPem(keys.privateKey) };
  }

  private async sign(publicKey: x509.PublicKey | CryptoKey, subject: x509.JsonName, extensions: x509.Extension[], validDays: number): Promise<string> {
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject,
      issuer: this.cert.subjectName,
      notBefore: days(-1),
      notAfter: days(validDays),
      signingKey: this.key,
      publicKey,
      signingAlgorithm: ALG,
      extensions: [new x509.BasicConstraintsExtension(false, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), ...extensions],
    });
    return cert.toString('pem');
  }
}
