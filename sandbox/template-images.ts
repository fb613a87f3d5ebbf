// A host's images of account templates (spec §3.2): built with this host's Docker from the base runtime's
// image plus the template's packages (or an admin's Dockerfile), tagged by content. A sandbox of a
// template starts only from its own image: one the host lacks is built first, never replaced by the base.
// A build runs code of the package indexes' choosing (setup.py, npm's install scripts): every step runs on
// an internal network of its own whose only peer is the host's egress proxy, which lets it reach the
// package indexes alone; with memory, CPU and process limits; and no longer than the build's time bound.
// pip and npm run as the sandbox user, into a prefix that user owns: only apt (Debian's archive) runs as root.
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { RuntimeLimits, TemplateBuildSettings } from '../config/index.js';
import { componentLog, errorFields } from '../config/log.js';
import { DuraboxError } from '../contract/errors.js';
import { BROWSER_IMAGE, BROWSER_MIN_MEMORY_MB, BROWSER_MIN_PIDS, BUILD_LOG_MAX_CHARS, type TemplateBase, type TemplateBuildResult, type TemplateRef } from '../contract/templates.js';
import { LABEL_EGRESS, sandboxNetwork, type Egress, type SandboxNetwork } from './egress.js';
import { LABEL_MANAGED, LABEL_WORKER } from './profile.js';
import { PythonSandboxPool, type PythonPoolOptions } from './python-pool.js';

export const LABEL_TEMPLATE = 'io.durabox.template';

/**
 * Where a template's pip and npm packages go, owned by the sandbox user. The image names it in
 * SANDBOX_TEMPLATE_PREFIX; the sandboxes' PID 1 programs hand its paths to the processes they start.
 */
export const TEMPLATE_PREFIX = '/opt/durabox-template';
const CA_PATH = '/usr/local/share/durabox-build-ca.crt';
/** How often a build's new step containers are looked for (to cap their processes). */
const STEP_WATCH_MS = 100;
/** How often the removal of a deleted template's image still in use is tried again. */
const PRUNE_RETRY_MS = 30_000;

export interface TemplateImagesOptions {
  docker: Docker;
  /** The image of each base runtime on this host (DURABOX_PYTHON_IMAGE, DURABOX_TERMINAL_IMAGE). */
  baseImages: Record<TemplateBase, string>;
  /** The browser template's image on this host, the base of account templates with `browser: true`; default BROWSER_IMAGE. */
  browserImage?: string;
  /** A CA bundle the package managers trust while building (a proxy that re-signs TLS); undefined: the image's own. */
  caFile?: string;
  /** This host's egress proxy: a build's only way out. */
  egress: Egress;
  /** Where a build may connect, its steps' limits and its time bound. */
  build: TemplateBuildSettings;
  /** This host's id (its log lines). */
  workerId?: string;
}

/** The Dockerfile of a template made of packages: the base runtime's image, the packages, the sandbox user. */
export function templateDockerfile(ref: Pick<TemplateRef, 'packages'>, withCa: boolean): string {
  const q = (names: string[]) => names.map((n) => `'${n}'`).join(' ');
  const { pip, npm, apt } = ref.packages;
  const lines = ['ARG BASE_IMAGE', 'FROM ${BASE_IMAGE}', 'USER root'];
  if (withCa) lines.push(`COPY build-ca.crt ${CA_PATH}`);
  if (apt.length > 0) {
    // apt reaches the archive through the proxy the build names (HTTP_PROXY and HTTPS_PROXY are build args).
    const o = `-o Acquire::http::Proxy="$http_proxy" -o Acquire::https::Proxy="$https_proxy"${withCa ? ` -o Acquire::https::CaInfo=${CA_PATH}` : ''}`;
    lines.push(`RUN apt-get ${o} update && DEBIAN_FRONTEND=noninteractive apt-get ${o} install -y --no-install-recommends ${q(apt)} && apt-get clean && rm -rf /var/lib/apt/lists/*`);
  }
  if (pip.length + npm.length > 0) {
    // The prefix, and a login shell's PATH to its programs (/etc/profile sets PATH anew).
    lines.push(
      `RUN install -d -o 1000 -g 1000 ${TEMPLATE_PREFIX} && echo 'PATH="${TEMPLATE_PREFIX}/python/bin:${TEMPLATE_PREFIX}/npm/bin:$PATH"' > /etc/profile.d/durabox-template.sh`,
      `ENV SANDBOX_TEMPLATE_PREFIX=${TEMPLATE_PREFIX}`,
    );
  }
  // From here on nothing a package runs can touch the system: its files are the sandbox user's prefix.
  lines.push('USER 1000:1000');
  if (pip.length > 0) {
    // pip's user scheme: installed packages of the image are kept, the rest goes under the prefix.
    lines.push(`RUN HOME=/tmp PYTHONUSERBASE=${TEMPLATE_PREFIX}/python ${withCa ? `PIP_CERT=${CA_PATH} ` : ''}python3 -m pip install --user --no-cache-dir --break-system-packages --disable-pip-version-check --no-warn-script-location ${q(pip)}`);
  }
  if (npm.length > 0) {
    lines.push(`RUN HOME=/tmp npm_config_cache=/tmp/durabox-npm-cache ${withCa ? `npm_config_cafile=${CA_PATH} ` : ''}npm install -g --prefix ${TEMPLATE_PREFIX}/npm --no-audit --no-fund --no-update-notifier ${q(npm)} && rm -rf /tmp/durabox-npm-cache`);
  }
  lines.push('WORKDIR /workspace');
  return `${lines.join('\n')}\n`;
}

/** Why a build stopped before its end: its time bound, or every caller gave up on it. */
class BuildStopped extends Error {}

interface RunningBuild {
  result: Promise<TemplateBuildResult>;
  controller: AbortController;
  /** Callers still waiting that may give up (a build workflow's activity): the build stops when none is left. */
  cancellable: number;
  /** A caller that never gives up (a task, a worker's own start) waits too. */
  pinned: boolean;
}

export class TemplateImages {
  private readonly building = new Map<string, RunningBuild>();
  /** Each image's build answer on this host: a later request for the same content gets the same answer. */
  private readonly answers = new Map<string, TemplateBuildResult>();
  /** Images of deleted templates that a container still used: tried again until they go. */
  private readonly pending = new Map<string, { wanted: (image: string) => Promise<boolean>; evict: (image: string) => Promise<void> }>();
  private pruneTimer?: NodeJS.Timeout;
  private readonly log;

  constructor(private readonly opts: TemplateImagesOptions) {
    this.log = componentLog('worker', { worker_id: opts.workerId ?? '' });
  }

  async has(image: string): Promise<boolean> {
    return this.opts.docker.getImage(image).inspect().then(() => true, () => false);
  }

  /**
   * The image, built when this host lacks it; concurrent calls for one image share its build. An image
   * that is there already is answered as its build was (the same content may be another account's: that
   * it was built before is none of this caller's business).
   */
  async ensure(ref: TemplateRef, signal?: AbortSignal): Promise<TemplateBuildResult & { built: boolean }> {
    if (await this.has(ref.image)) {
      return { ...(this.answers.get(ref.image) ?? { ok: true, seconds: 0, log: `built ${ref.image}\n` }), built: false };
    }
    // A built-in template's image is the host's own (deploy/images/build.sh): never made from a base here.
    if (ref.builtin) return { ok: false, seconds: 0, log: `this host lacks the ${ref.name} template's image ${ref.image} (deploy/images/build.sh builds it)\n`, built: false };
    return { ...(await this.build(ref, signal)), built: true };
  }

  /** The image is on this host, built now if it was missing; one that cannot be built is template_unavailable. */
  async ready(ref: TemplateRef): Promise<void> {
    const built = await this.ensure(ref);
    if (!built.ok) throw new DuraboxError('template_unavailable', `template ${ref.name} did not build on this host: ${built.log.slice(-2000)}`);
  }

  /**
   * Builds the template's image (again, if present); a failed build is an answer with its log, not an
   * error. `signal`: this caller gives up (its template was deleted); the build stops once every caller has.
   */
  build(ref: TemplateRef, signal?: AbortSignal): Promise<TemplateBuildResult> {
    let run = this.building.get(ref.image);
    if (!run) {
      const controller = new AbortController();
      const started: RunningBuild = { controller, cancellable: 0, pinned: false, result: Promise.resolve({ ok: false, seconds: 0, log: '' }) };
      started.result = this.buildOnce(ref, controller.signal).finally(() => this.building.delete(ref.image));
      this.building.set(ref.image, started);
      run = started;
    }
    return signal ? this.waitCancellable(run, signal) : (run.pinned = true, run.result);
  }

  private waitCancellable(run: RunningBuild, signal: AbortSignal): Promise<TemplateBuildResult> {
    run.cancellable++;
    return new Promise<TemplateBuildResult>((resolve, reject) => {
      const giveUp = () => {
        if (--run.cancellable === 0 && !run.pinned) run.controller.abort(new BuildStopped('the build was cancelled: its template was deleted'));
        reject(signal.reason instanceof Error ? signal.reason : new BuildStopped('cancelled'));
      };
      if (signal.aborted) return giveUp();
      signal.addEventListener('abort', giveUp, { once: true });
      run.result.then(resolve, reject).finally(() => signal.removeEventListener('abort', giveUp));
    });
  }

  /**
   * A deleted template's image: removed unless a live template still names it. One a container still
   * runs on (a task or a session that went on) is tried again every PRUNE_RETRY_MS until it goes.
   */
  async prune(image: string, wanted: (image: string) => Promise<boolean>, evict: (image: string) => Promise<void>): Promise<boolean> {
    // A build of it still going (being cancelled, or wanted by a task) ends first: its image is then judged.
    await this.building.get(image)?.result.catch(() => undefined);
    if (await wanted(image)) {
      this.pending.delete(image);
      return false;
    }
    await evict(image);
    if (await this.remove(image)) {
      this.pending.delete(image);
      this.log.info({ image }, 'removed the image of a deleted template');
      return true;
    }
    this.pending.set(image, { wanted, evict });
    this.retryPrunes();
    return false;
  }

  private retryPrunes(): void {
    if (this.pruneTimer) return;
    this.pruneTimer = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.pruneTimer);
        this.pruneTimer = undefined;
        return;
      }
      for (const [image, p] of [...this.pending]) {
        this.prune(image, p.wanted, p.evict).catch((e: Error) => this.log.warn({ image, ...errorFields(e) }, 'cannot remove the image of a deleted template'));
      }
    }, PRUNE_RETRY_MS);
    this.pruneTimer.unref();
  }

  /**
   * The template images this worker built: `durabox-template/<base>:<content digest>` tags (other
   * workers sharing this Docker daemon judge their own).
   */
  async images(): Promise<string[]> {
    if (!this.opts.workerId) return [];
    const found = await this.opts.docker.listImages({ filters: { label: [LABEL_TEMPLATE, `${LABEL_WORKER}=${this.opts.workerId}`] } });
    return found.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith('durabox-template/'));
  }

  /** Stops retrying removals (the worker stops). */
  close(): void {
    clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
  }

  /** Removes the image unless a container still uses it; true when it is gone. */
  async remove(image: string): Promise<boolean> {
    this.answers.delete(image);
    try {
      await this.opts.docker.getImage(image).remove({ noprune: false });
      return true;
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      if (status === 404) return true;
      if (status === 409) return false;
      throw e;
    }
  }

  private async buildOnce(ref: TemplateRef, cancel: AbortSignal): Promise<TemplateBuildResult> {
    const started = Date.now();
    const { docker, build } = this.opts;
    const dir = mkdtempSync(join(tmpdir(), 'durabox-template-'));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new BuildStopped(
      `the build ran past its time bound of ${build.timeoutSec} s (DURABOX_TEMPLATE_BUILD_TIMEOUT_SEC) and was aborted`,
    )), build.timeoutSec * 1000);
    const onCancel = () => abort.abort(cancel.reason);
    cancel.addEventListener('abort', onCancel, { once: true });
    let log = '';
    let net: SandboxNetwork | undefined;
    let watch: NodeJS.Timeout | undefined;
    try {
      const withCa = this.opts.caFile !== undefined && existsSync(this.opts.caFile);
      if (withCa) copyFileSync(this.opts.caFile!, join(dir, 'build-ca.crt'));
      writeFileSync(join(dir, 'Dockerfile'), ref.dockerfile ?? templateDockerfile(ref, withCa));
      net = await sandboxNetwork(this.opts.egress, this.stepLimits(ref));
      const network = String(net.hostConfig.NetworkMode);
      watch = this.capSteps(network);
      const stream = await docker.buildImage(
        { context: dir, src: withCa ? ['Dockerfile', 'build-ca.crt'] : ['Dockerfile'] },
        {
          t: ref.image,
          buildargs: { BASE_IMAGE: this.baseImage(ref), ...proxyArgs(net.env) },
          forcerm: true,
          labels: { [LABEL_MANAGED]: 'true', [LABEL_TEMPLATE]: ref.name, ...(this.opts.workerId ? { [LABEL_WORKER]: this.opts.workerId } : {}) },
          // Every RUN step: alone on the build's internal network with the egress proxy, and limited.
          networkmode: network,
          memory: build.memoryBytes,
          memswap: build.memoryBytes,
          cpuperiod: 100_000,
          cpuquota: Math.max(1000, Math.round((build.nanoCpus / 1e9) * 100_000)),
          abortSignal: abort.signal,
        } as Docker.ImageBuildOptions,
      );
      let failure: string | undefined;
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (event: { stream?: string; error?: string; status?: string }) => {
          if (event.error) failure = event.error;
          const text = event.stream ?? event.error ?? (event.status ? `${event.status}\n` : '');
          log = (log + text).slice(-BUILD_LOG_MAX_CHARS);
        });
      });
      if (abort.signal.aborted) throw abort.signal.reason;
      if (failure === undefined && !(await this.has(ref.image))) failure = 'the build ended without an image';
      if (failure !== undefined && !log.includes(failure)) log += `\n${failure}\n`;
      const answer = { ok: failure === undefined, seconds: (Date.now() - started) / 1000, log };
      if (answer.ok) this.answers.set(ref.image, answer);
      return answer;
    } catch (e) {
      const why = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason.message : (e as Error).message;
      if (abort.signal.aborted) this.log.warn({ template: ref.name, image: ref.image }, why);
      return { ok: false, seconds: (Date.now() - started) / 1000, log: `${log}\n${why}\n`.slice(-BUILD_LOG_MAX_CHARS) };
    } finally {
      clearTimeout(timer);
      clearInterval(watch);
      cancel.removeEventListener('abort', onCancel);
      if (net) {
        // An aborted build's step container goes with its network (Docker removes it too; whichever is first).
        await this.removeSteps(String(net.hostConfig.NetworkMode));
        net.release();
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The image a template builds FROM: its base runtime's, or the browser template's for `browser: true`. */
  private baseImage(ref: TemplateRef): string {
    return ref.browser ? (this.opts.browserImage ?? BROWSER_IMAGE) : this.opts.baseImages[ref.base];
  }

  /** What a build's network is made for: the egress proxy's allow-list of the package indexes. */
  private stepLimits(ref: TemplateRef): RuntimeLimits {
    const b = this.opts.build;
    return { image: this.baseImage(ref), memoryBytes: b.memoryBytes, nanoCpus: b.nanoCpus, pidsLimit: b.pidsLimit, tmpfsBytes: 0, network: false, egress: b.indexes };
  }

  /**
   * The classic builder takes no process limit: each step container that shows up on the build's network
   * gets one as soon as it is seen (within STEP_WATCH_MS of its start; memory bounds it until then).
   */
  private capSteps(network: string): NodeJS.Timeout {
    const capped = new Set<string>();
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      this.steps(network)
        .then((ids) => Promise.all(ids.filter((id) => !capped.has(id)).map(async (id) => {
          capped.add(id);
          await this.opts.docker.getContainer(id).update({ PidsLimit: this.opts.build.pidsLimit }).catch(() => undefined);
        })))
        .catch(() => undefined)
        .finally(() => { busy = false; });
    }, STEP_WATCH_MS);
    timer.unref();
    return timer;
  }

  /** The build's step containers: whatever is on its network but the egress proxy. */
  private async steps(network: string): Promise<string[]> {
    const found = await this.opts.docker.listContainers({ all: true, filters: { network: [network] } });
    return found.filter((c) => c.Labels?.[LABEL_EGRESS] !== 'proxy').map((c) => c.Id);
  }

  private async removeSteps(network: string): Promise<void> {
    const ids = await this.steps(network).catch(() => [] as string[]);
    await Promise.all(ids.map((id) => this.opts.docker.getContainer(id).remove({ force: true }).catch((e: Error) => {
      if (!/No such container|is already in progress|404/i.test(e.message)) this.log.warn({ container: id, ...errorFields(e) }, 'cannot remove a template build\'s step container');
    })));
  }
}

/** The proxy variables of a build's network, as build args: Docker predefines them, and keeps none in the image. */
function proxyArgs(env: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const e of env) {
    const [k, v] = [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)];
    if (/^(?:HTTPS?_PROXY|https?_proxy)$/.test(k)) args[k] = v;
  }
  return args;
}

/**
 * A python host's sandbox pools of account templates: one per image and limits, each keeping one idle
 * sandbox. The image is checked (and built when missing) once, when its pool is made, not on every task.
 * At most `max` pools are kept: the least recently used beyond it is closed (its idle sandbox and its
 * network go; an execution still running in it ends as it would have).
 */
export class TemplatePools {
  private readonly pools = new Map<string, { pool: PythonSandboxPool; image: string }>();

  constructor(private readonly images: TemplateImages, private readonly base: Omit<PythonPoolOptions, 'warm' | 'keepIdle'>, private readonly max = 8) {}

  async pool(ref: TemplateRef): Promise<PythonSandboxPool> {
    const limits = templateLimits(this.base.limits, ref);
    const key = JSON.stringify(limits);
    const known = this.take(key);
    if (known) return known;
    await this.images.ready(ref);
    // Two first tasks of a template shared the build above; the first to get here makes the pool.
    const again = this.take(key);
    if (again) return again;
    const pool = new PythonSandboxPool({ ...this.base, limits, warm: 0, keepIdle: 1 });
    this.pools.set(key, { pool, image: ref.image });
    await this.trim();
    return pool;
  }

  get size(): number { return this.pools.size; }

  /** The pool, now the most recently used. */
  private take(key: string): PythonSandboxPool | undefined {
    const entry = this.pools.get(key);
    if (!entry) return undefined;
    this.pools.delete(key);
    this.pools.set(key, entry);
    return entry.pool;
  }

  private async trim(): Promise<void> {
    const doomed = [...this.pools.entries()].slice(0, Math.max(0, this.pools.size - this.max));
    for (const [key] of doomed) this.pools.delete(key);
    await Promise.all(doomed.map(([, e]) => e.pool.close()));
  }

  /** Closes the pools of an image (its template was deleted): their idle sandboxes no longer hold it. */
  async evict(image: string): Promise<void> {
    const doomed = [...this.pools.entries()].filter(([, e]) => e.image === image);
    for (const [key] of doomed) this.pools.delete(key);
    await Promise.all(doomed.map(([, e]) => e.pool.close()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((e) => e.pool.close()));
  }
}

/** A template's sandbox limits: its base runtime's, with its image, network policy and any limit it sets. */
export function templateLimits(base: RuntimeLimits, ref: TemplateRef): RuntimeLimits {
  const memoryBytes = ref.memoryMb !== undefined ? ref.memoryMb * 1024 * 1024 : base.memoryBytes;
  const pidsLimit = ref.pidsLimit ?? base.pidsLimit;
  return {
    ...base,
    image: ref.image,
    // `full` is the public internet through the host's egress proxy, never the Docker bridge (which reaches
    // the host and other sandboxes): a network of its own, like an allow-list's. The built-in browser
    // template's policy is none: a browser with a network is an account template with browser: true.
    network: false,
    egress: ref.network === 'allowlist' ? ref.allow : ref.network === 'full' ? 'public' : undefined,
    // Chromium's floors (its renderers, GPU and network processes, their threads), whatever else was asked.
    memoryBytes: ref.browser ? Math.max(memoryBytes, BROWSER_MIN_MEMORY_MB * 1024 * 1024) : memoryBytes,
    pidsLimit: ref.browser ? Math.max(pidsLimit, BROWSER_MIN_PIDS) : pidsLimit,
    nanoCpus: ref.cpus !== undefined ? Math.round(ref.cpus * 1e9) : base.nanoCpus,
  };
}
