// A second Docker daemon on this machine, as a second execution host has: its own socket, data root,
// exec root, bridge and containerd. It starts with the sandbox images copied from the first daemon.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';

export class SecondDocker {
  readonly dir = mkdtempSync('/var/tmp/durabox-dockerd-');
  readonly socket = join(this.dir, 'docker.sock');
  readonly docker: Docker;
  /** Short, unique, and never one of the first daemon's interfaces. */
  private readonly bridge = `dbx${process.pid % 100000}`;
  private child: ChildProcess | undefined;
  private out = '';

  constructor(private readonly subnet = '172.31.254.1/24') {
    this.docker = new Docker({ socketPath: this.socket });
  }

  get host(): string {
    return `unix://${this.socket}`;
  }

  async start(images: string[]): Promise<void> {
    execFileSync('ip', ['link', 'add', 'name', this.bridge, 'type', 'bridge']);
    execFileSync('ip', ['addr', 'add', this.subnet, 'dev', this.bridge]);
    execFileSync('ip', ['link', 'set', this.bridge, 'up']);
    this.child = spawn('dockerd', [
      '--host', this.host,
      '--data-root', join(this.dir, 'data'),
      '--exec-root', join(this.dir, 'exec'),
      '--pidfile', join(this.dir, 'docker.pid'),
      '--bridge', this.bridge,
      // The first daemon owns the host's firewall rules; sandboxes have no network by default.
      '--iptables=false', '--ip-masq=false',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => { this.out += d; });
    this.child.stderr!.on('data', (d) => { this.out += d; });
    const until = Date.now() + 60_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`the second dockerd exited: ${this.out.slice(-2000)}`);
      if (await this.docker.ping().then(() => true, () => false)) break;
      if (Date.now() > until) throw new Error(`the second dockerd never answered: ${this.out.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // No registry: the images go from one daemon to the other as a tar stream.
    execFileSync('bash', ['-o', 'pipefail', '-c', `docker save ${images.join(' ')} | docker -H ${this.host} load -q`], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child!.once('exit', r));
      this.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }
    try { execFileSync('ip', ['link', 'del', this.bridge], { stdio: 'ignore' }); } catch { /* never made */ }
    // Container layers are mounted under the data root until the daemon is gone.
    try { execFileSync('umount', ['-R', '-l', join(this.dir, 'exec')], { stdio: 'ignore' }); } catch { /* nothing mounted */ }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
