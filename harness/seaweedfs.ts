// A real S3-compatible server for the tests of the S3 snapshot store: SeaweedFS's `weed server -s3`
// (deploy/setup-host.sh builds it), on loopback ports with its data in a temp dir, one bucket made for the
// run. Nothing of it reaches beyond this machine: its telemetry is off and every port binds to 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** The `weed` binary: DURABOX_WEED, else `weed` on PATH. */
export const WEED = process.env.DURABOX_WEED || 'weed';

/** Whether `port` can be bound on 127.0.0.1 now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A port whose gRPC twin (port + 10000, SeaweedFS's default) is free too: picked below the ephemeral
 * range, so that the twin is a valid port.
 */
async function portPair(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 10000);
    if (taken.has(p) || taken.has(p + 10000)) continue;
    if ((await portFree(p)) && (await portFree(p + 10000))) {
      taken.add(p).add(p + 10000);
      return p;
    }
  }
  throw new Error('no free pair of ports for SeaweedFS');
}

export class SeaweedS3 {
  readonly dir = mkdtempSync(join(tmpdir(), 'durabox-seaweedfs-'));
  readonly accessKeyId = 'durabox-test';
  readonly secretAccessKey = 'durabox-test-secret-0123456789';
  readonly bucket = 'durabox-checkpoints';
  endpoint = '';
  client!: S3Client;
  private child: ChildProcess | undefined;
  private out = '';

  output(): string {
    return this.out;
  }

  /** The platform's settings for a store in this server's bucket, under `prefix`. */
  settings(prefix: string): Record<string, string> {
    return {
      DURABOX_SNAPSHOT_URL: `s3://${this.bucket}/${prefix}`,
      DURABOX_SNAPSHOT_S3_ENDPOINT: this.endpoint,
      DURABOX_SNAPSHOT_S3_ACCESS_KEY_ID: this.accessKeyId,
      DURABOX_SNAPSHOT_S3_SECRET_ACCESS_KEY: this.secretAccessKey,
    };
  }

  async start(): Promise<void> {
    const taken = new Set<number>();
    const [master, volume, filer, s3] = [await portPair(taken), await portPair(taken), await portPair(taken), await portPair(taken)];
    const config = join(this.dir, 's3.json');
    writeFileSync(config, JSON.stringify({
      identities: [{ name: 'durabox', credentials: [{ accessKey: this.accessKeyId, secretKey: this.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }],
    }));
    this.child = spawn(WEED, [
      'server', '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-dir=${this.dir}`,
      `-master.port=${master}`, '-master.telemetry=false', '-master.volumeSizeLimitMB=1024',
      `-volume.port=${volume}`, '-volume.max=0',
      '-filer', `-filer.port=${filer}`, `-filer.localSocket=${join(this.dir, 'filer.sock')}`,
      '-s3', `-s3.port=${s3}`, '-s3.port.iceberg=0', '-s3.port.lance=0', `-s3.config=${config}`,
    ], { cwd: this.dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => { this.out = (this.out + d).slice(-20000); });
    this.child.stderr!.on('data', (d) => { this.out = (this.out + d).slice(-20000); });
    const spawned = new Promise<void>((resolve, reject) => {
      this.child!.once('spawn', resolve);
      this.child!.once('error', (e) => reject(new Error(`could not start ${WEED} (deploy/setup-host.sh installs it): ${e.message}`)));
    });
    await spawned;
    this.endpoint = `http://127.0.0.1:${s3}`;
    this.client = new S3Client({
      region: 'us-east-1', endpoint: this.endpoint, forcePathStyle: true,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    });
    // The S3 gateway answers once the master, a volume server and the filer are up.
    const until = Date.now() + 90_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`weed exited (${this.child.exitCode}): ${this.out}`);
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
        return;
      } catch (e) {
        const name = (e as { name?: string }).name;
        if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return;
        if (Date.now() > until) throw new Error(`SeaweedFS's S3 gateway never took a bucket: ${(e as Error).message}\n${this.out}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** The keys under `prefix`, with their sizes. */
  async list(prefix: string): Promise<Array<{ key: string; size: number }>> {
    const found: Array<{ key: string; size: number }> = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken }));
      found.push(...(page.Contents ?? []).map((o) => ({ key: o.Key!, size: Number(o.Size ?? 0) })));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return found;
  }

  async stop(): Promise<void> {
    this.client?.destroy();
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const killed = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killed);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
