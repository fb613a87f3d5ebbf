// Certificates a test makes for itself with openssl: a CA and leaves signed by it (ECDSA P-256, one day).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Leaf {
  cert: string;
  key: string;
}

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'durabox-pki-'));
  readonly ca: string;
  private readonly caKey: string;
  private serial = 0;

  constructor(name = 'durabox test CA') {
    this.ca = join(this.dir, 'ca.crt');
    this.caKey = join(this.dir, 'ca.key');
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-keyout', this.caKey, '-out', this.ca, '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  }

  /** A server certificate for these names (DNS names, or IPs as `IP:…`). */
  server(name: string, sans: string[]): Leaf {
    return this.leaf(name, [`subjectAltName=${sans.map((s) => (s.startsWith('IP:') ? s : `DNS:${s}`)).join(',')}`, 'extendedKeyUsage=serverAuth']);
  }

  client(name: string): Leaf {
    return this.leaf(name, ['extendedKeyUsage=clientAuth']);
  }

  /** The CA file's PEM. */
  get caPem(): string {
    return readFileSync(this.ca, 'utf8');
  }

  private leaf(name: string, extensions: string[]): Leaf {
    const base = join(this.dir, `${++this.serial}-${name.replace(/[^a-z0-9]+/gi, '_')}`);
    const ext = `${base}.ext`;
    writeFileSync(ext, ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', ...extensions].join('\n'));
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', `${base}.csr`, '-CA', this.ca, '-CAkey', this.caKey, '-set_serial', String(1000 + this.serial), '-days', '1', '-out', `${base}.crt`, '-extfile', ext);
    return { cert: `${base}.crt`, key: `${base}.key` };
  }
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
