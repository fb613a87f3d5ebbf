// A host's images of account templates (spec §3.2): built with this host's Docker from the base runtime's
// image plus the template's packages (or an admin's Dockerfile), tagged by content. A sandbox of a
// template starts only from its own image: one the host lacks is built first, never replaced by the base.
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { RuntimeLimits } from '../config/index.js';
import { DuraboxError } from '../contract/errors.js';
import { BUILD_LOG_MAX_CHARS, type TemplateBase, type TemplateBuildResult, type TemplateRef } from '../contract/templates.js';
import { LABEL_MANAGED } from './profile.js';
import { PythonSandboxPool, type PythonPoolOptions } from './python-pool.js';

export const LABEL_TEMPLATE = 'io.durabox.template';

export interface TemplateImagesOptions {
  docker: Docker;
  /** The image of each base runtime on this host (DURABOX_PYTHON_IMAGE, DURABOX_TERMINAL_IMAGE). */
  baseImages: Record<TemplateBase, string>;
  /** A CA bundle the package managers trust while building (a proxy that re-signs TLS); undefined: the image's own. */
  caFile?: string;
}

/** The Dockerfile of a template made of packages: the base runtime's image, the packages, the sandbox user. */
export function templateDockerfile(ref: Pick<TemplateRef, 'packages'>, withCa: boolean): string {
  const q = (names: string[]) => names.map((n) => `'${n}'`).join(' ');
  const { pip, npm, apt } = ref.packages;
  const lines = ['ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}', 'USER root'];
  if (withCa) lines.push('COPY build-ca.crt /usr/local/share/durabox-build-ca.crt');
  const ca = withCa ? '/usr/local/share/durabox-build-ca.crt' : '';
  if (apt.length > 0) {
    lines.push(`RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${q(apt)} && apt-get clean && rm -rf /var/lib/apt/lists/*`);
  }
  if (pip.length > 0) {
    lines.push(`RUN ${ca ? `PIP_CERT=${ca} ` : ''}python3 -m pip install --no-cache-dir --break-system-packages --disable-pip-version-check --root-user-action=ignore ${q(pip)}`);
  }
  if (npm.length > 0) {
    lines.push(`RUN ${ca ? `npm_config_cafile=${ca} ` : ''}npm install -g --no-audit --no-fund --no-update-notifier ${q(npm)} && rm -rf /root/.npm`);
  }
  lines.push('USER 1000:1000', 'WORKDIR /workspace');
  return `${lines.join('\n')}\n`;
}

export class TemplateImages {
  private readonly building = new Map<string, Promise<TemplateBuildResult>>();

  constructor(private readonly opts: TemplateImagesOptions) {}

  async has(image: string): Promise<boolean> {
    return this.opts.docker.getImage(image).inspect().then(() => true, () => false);
  }

  /** The image, built when this host lacks it; concurrent calls for one image share its build. */
  async ensure(ref: TemplateRef): Promise<TemplateBuildResult & { built: boolean }> {
    if (await this.has(ref.image)) return { ok: true, seconds: 0, log: `${ref.image} is already on this host (the same base and packages)\n`, built: false };
    return { ...(await this.build(ref)), built: true };
  }

  /** The image is on this host, built now if it was missing; one that cannot be built is template_unavailable. */
  async ready(ref: TemplateRef): Promise<void> {
    const built = await this.ensure(ref);
    if (!built.ok) throw new DuraboxError('template_unavailable', `template ${ref.name} did not build on this host: ${built.log.slice(-2000)}`);
  }

  /** Builds the template's image (again, if present); a failed build is an answer with its log, not an error. */
  build(ref: TemplateRef): Promise<TemplateBuildResult> {
    const running = this.building.get(ref.image);
    if (running) return running;
    const p = this.buildOnce(ref).finally(() => this.building.delete(ref.image));
    this.building.set(ref.image, p);
    return p;
  }

  private async buildOnce(ref: TemplateRef): Promise<TemplateBuildResult> {
    const started = Date.now();
    const dir = mkdtempSync(join(tmpdir(), 'durabox-template-'));
    let log = '';
    try {
      const withCa = this.opts.caFile !== undefined && existsSync(this.opts.caFile);
      if (withCa) copyFileSync(this.opts.caFile!, join(dir, 'build-ca.crt'));
      writeFileSync(join(dir, 'Dockerfile'), ref.dockerfile ?? templateDockerfile(ref, withCa));
      const stream = await this.opts.docker.buildImage(
        { context: dir, src: withCa ? ['Dockerfile', 'build-ca.crt'] : ['Dockerfile'] },
        { t: ref.image, buildargs: { BASE_IMAGE: this.opts.baseImages[ref.base] }, forcerm: true, labels: { [LABEL_MANAGED]: 'true', [LABEL_TEMPLATE]: ref.name } },
      );
      let failure: string | undefined;
      await new Promise<void>((resolve, reject) => {
        this.opts.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (event: { stream?: string; error?: string; status?: string }) => {
          if (event.error) failure = event.error;
          const text = event.stream ?? event.error ?? (event.status ? `${event.status}\n` : '');
          log = (log + text).slice(-BUILD_LOG_MAX_CHARS);
        });
      });
      if (failure === undefined && !(await this.has(ref.image))) failure = 'the build ended without an image';
      if (failure !== undefined && !log.includes(failure)) log += `\n${failure}\n`;
      return { ok: failure === undefined, seconds: (Date.now() - started) / 1000, log };
    } catch (e) {
      return { ok: false, seconds: (Date.now() - started) / 1000, log: `${log}\n${(e as Error).message}\n` };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * A python host's sandbox pools of account templates: one per image and limits, each keeping one idle
 * sandbox. The image is checked (and built when missing) once, when its pool is made, not on every task.
 */
export class TemplatePools {
  private readonly pools = new Map<string, PythonSandboxPool>();

  constructor(private readonly images: TemplateImages, private readonly base: Omit<PythonPoolOptions, 'warm' | 'keepIdle'>) {}

  async pool(ref: TemplateRef): Promise<PythonSandboxPool> {
    const limits = templateLimits(this.base.limits, ref);
    const key = JSON.stringify(limits);
    const known = this.pools.get(key);
    if (known) return known;
    await this.images.ready(ref);
    // Two first tasks of a template shared the build above; the first to get here makes the pool.
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new PythonSandboxPool({ ...this.base, limits, warm: 0, keepIdle: 1 });
      this.pools.set(key, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}

/** A template's sandbox limits: its base runtime's, with its image, network policy and any limit it sets. */
export function templateLimits(base: RuntimeLimits, ref: TemplateRef): RuntimeLimits {
  return {
    ...base,
    image: ref.image,
    // `full` is the public internet through the host's egress proxy, never the Docker bridge (which reaches
    // the host and other sandboxes): a network of its own, like an allow-list's.
    network: false,
    egress: ref.network === 'allowlist' ? ref.allow : ref.network === 'full' ? 'public' : undefined,
    memoryBytes: ref.memoryMb !== undefined ? ref.memoryMb * 1024 * 1024 : base.memoryBytes,
    nanoCpus: ref.cpus !== undefined ? Math.round(ref.cpus * 1e9) : base.nanoCpus,
  };
}
