// Templates' pure parts: what a create body may hold (one package per name, never an option, a URL or a
// shell word), the image tag of a template's content, the Dockerfile made of its packages, and how many
// python pools of templates a host keeps.
import assert from 'node:assert/strict';
import { BROWSER_IMAGE, BROWSER_MIN_MEMORY_MB, BROWSER_MIN_PIDS, BUILTIN_TEMPLATES, builtinTemplateRef, TemplateCreateBody } from '../../contract/templates.js';
import { templateImage } from '../../control/template-service.js';
import type Docker from 'dockerode';
import { TemplateImages, TemplatePools, templateDockerfile, templateLimits } from '../../sandbox/template-images.js';
import { DuraboxError } from '../../contract/errors.js';
import type { RuntimeLimits } from '../../config/index.js';
import type { TemplateRef } from '../../contract/templates.js';

const parse = (body: unknown) => TemplateCreateBody.safeParse(body);

describe('templates: create bodies, image tags and Dockerfiles', () => {
  it('accepts package names with versions and extras, with defaults for what is left out', () => {
    const r = parse({ name: 'ml-2', base: 'python', packages: { pip: ['tabulate==0.9.0', 'requests[socks]>=2', 'scikit_learn'], npm: ['@scope/pkg@1.2.3', 'lodash'], apt: ['libxml2-utils', 'g++=4:12.2.0-3'] } });
    assert.ok(r.success, JSON.stringify(r.error?.issues));
    assert.equal(r.data.network, 'none');
    assert.deepEqual(parse({ name: 'a', base: 'terminal' }).data?.packages, { pip: [], npm: [], apt: [] });
  });

  it('refuses options, locations and shell words as packages, and odd names, naming the field', () => {
    for (const [body, path] of [
      [{ name: 'a', base: 'python', packages: { pip: ['--index-url=http://x'] } }, 'packages.pip.0'],
      [{ name: 'a', base: 'python', packages: { pip: ['git+https://x/y.git'] } }, 'packages.pip.0'],
      [{ name: 'a', base: 'python', packages: { npm: ['x; curl y'] } }, 'packages.npm.0'],
      [{ name: 'a', base: 'python', packages: { apt: ["x'$(id)'"] } }, 'packages.apt.0'],
      [{ name: 'a', base: 'python', packages: { pip: Array(51).fill('six') } }, 'packages.pip'],
      [{ name: '-a', base: 'python' }, 'name'],
      [{ name: 'terminal', base: 'python' }, 'name'],
      [{ name: 'a', base: 'python', dockerfile: 'FROM x', packages: { pip: ['six'] } }, 'packages'],
      [{ name: 'a', base: 'python', cpus: 0 }, 'cpus'],
    ] as const) {
      const r = parse(body);
      assert.equal(r.success, false, JSON.stringify(body));
      assert.ok(r.error!.issues.some((i) => i.path.join('.') === path), `${JSON.stringify(body)}: ${JSON.stringify(r.error!.issues.map((i) => i.path.join('.')))}`);
    }
  });

  it('takes an allow-list of host:port patterns with network allowlist only, naming the entry it refuses', () => {
    const ok = parse({ name: 'net', base: 'python', network: 'allowlist', allow: ['pypi.org:443', '*.pythonhosted.org:443', '10.0.0.5:5432', '[fd00::1]:80', 'Files.Example.COM:8080'] });
    assert.ok(ok.success, JSON.stringify(ok.error?.issues));
    for (const [body, path] of [
      [{ name: 'a', base: 'python', network: 'allowlist' }, 'allow'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: [] }, 'allow'],
      [{ name: 'a', base: 'python', network: 'full', allow: ['pypi.org:443'] }, 'allow'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: ['https://pypi.org:443'] }, 'allow.0'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: ['pypi.org:443', 'pypi.org'] }, 'allow.1'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: ['pypi.org:0'] }, 'allow.0'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: ['pypi.org:1-1024'] }, 'allow.0'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: ['*.*.org:443'] }, 'allow.0'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: ['a b:443'] }, 'allow.0'],
      [{ name: 'a', base: 'python', network: 'allowlist', allow: Array(101).fill('pypi.org:443') }, 'allow'],
    ] as const) {
      const r = parse(body);
      assert.equal(r.success, false, JSON.stringify(body));
      assert.ok(r.error!.issues.some((i) => i.path.join('.') === path), `${JSON.stringify(body)}: ${JSON.stringify(r.error!.issues.map((i) => i.path.join('.')))}`);
    }
  });

  it('gives a full template\'s sandboxes the public-only egress proxy, never the Docker bridge; an allow-list its list; none nothing', () => {
    const base: RuntimeLimits = { image: 'durabox/python:4', memoryBytes: 1, nanoCpus: 1, pidsLimit: 8, tmpfsBytes: 1, network: false };
    const ref = (over: Partial<TemplateRef>): TemplateRef => ({ name: 't', base: 'python', image: 'x', packages: { pip: [], npm: [], apt: [] }, network: 'none', ...over });
    const full = templateLimits(base, ref({ network: 'full' }));
    assert.equal(full.network, false);
    assert.equal(full.egress, 'public');
    // A runtime whose operator gave it the bridge does not pass it on to its templates.
    assert.equal(templateLimits({ ...base, network: true }, ref({ network: 'full' })).network, false);
    assert.deepEqual(templateLimits(base, ref({ network: 'allowlist', allow: ['pypi.org:443'] })).egress, ['pypi.org:443']);
    const none = templateLimits({ ...base, network: true }, ref({}));
    assert.equal(none.network, false);
    assert.equal(none.egress, undefined);
  });

  it('gives browser templates Chromium\'s floors of memory and processes, and keeps larger asks', () => {
    const base: RuntimeLimits = { image: 'durabox/terminal:6', memoryBytes: 512 * 1024 * 1024, nanoCpus: 1e9, pidsLimit: 128, tmpfsBytes: 1, network: true };
    const builtin = builtinTemplateRef('browser')!;
    assert.equal(builtin.base, 'terminal');
    assert.equal(builtin.image, BROWSER_IMAGE);
    const l = templateLimits(base, builtin);
    assert.equal(l.image, BROWSER_IMAGE);
    assert.equal(l.memoryBytes, BROWSER_MIN_MEMORY_MB * 1024 * 1024);
    assert.equal(l.pidsLimit, BROWSER_MIN_PIDS);
    assert.equal(l.network, false, 'the built-in browser template has no network of its own');
    const own: TemplateRef = { name: 'web', base: 'terminal', image: 'x', packages: { pip: [], npm: [], apt: [] }, network: 'none', browser: true, memoryMb: 256 };
    assert.equal(templateLimits(base, own).memoryBytes, BROWSER_MIN_MEMORY_MB * 1024 * 1024, 'a smaller ask is raised to the floor');
    assert.equal(templateLimits(base, { ...own, memoryMb: 2048 }).memoryBytes, 2048 * 1024 * 1024);
    assert.equal(templateLimits(base, { ...own, browser: false }).pidsLimit, 128);
    assert.equal(builtinTemplateRef('terminal'), undefined);
    assert.ok(BUILTIN_TEMPLATES.includes('browser'));
    assert.ok(parse({ name: 'web', base: 'terminal', browser: true }).success);
    const py = parse({ name: 'web', base: 'python', browser: true });
    assert.ok(!py.success && py.error.issues.some((i) => i.path.join('.') === 'browser'));
    assert.ok(!parse({ name: 'browser', base: 'terminal' }).success, 'browser is a built-in name');
    // browser: true is another image; false leaves the name of a template made before the field existed.
    const pkgs = { pip: [], npm: [], apt: [] };
    assert.notEqual(templateImage({ base: 'terminal', packages: pkgs, browser: true }), templateImage({ base: 'terminal', packages: pkgs }));
    assert.equal(templateImage({ base: 'terminal', packages: pkgs, browser: false }), templateImage({ base: 'terminal', packages: pkgs }));
  });

  it('never builds a built-in template\'s image: a host without it answers template_unavailable naming the image', async () => {
    let builds = 0;
    const docker = {
      getImage: () => ({ inspect: async () => { throw Object.assign(new Error('no such image'), { statusCode: 404 }); } }),
      buildImage: async () => { builds++; throw new Error('not to be called'); },
    } as unknown as Docker;
    const images = new TemplateImages({ docker, baseImages: { python: 'p', terminal: 't' }, egress: {} as never, build: {} as never });
    const ref = builtinTemplateRef('browser')!;
    const answer = await images.ensure(ref);
    assert.equal(answer.ok, false);
    assert.match(answer.log, /durabox\/browser:2.*build\.sh/);
    await assert.rejects(images.ready(ref), (e) => e instanceof DuraboxError && e.code === 'template_unavailable');
    assert.equal(builds, 0);
  });

  it('names an image after its content: the same base and packages are one image, anything else another', () => {
    const a = templateImage({ base: 'python', packages: { pip: ['six'], npm: [], apt: [] } });
    assert.match(a, /^durabox-template\/python:[0-9a-f]{32}$/);
    assert.equal(templateImage({ base: 'python', packages: { pip: ['six'], npm: [], apt: [] } }), a);
    assert.notEqual(templateImage({ base: 'terminal', packages: { pip: ['six'], npm: [], apt: [] } }), a);
    assert.notEqual(templateImage({ base: 'python', packages: { pip: ['six==1.16.0'], npm: [], apt: [] } }), a);
  });

  it('makes a Dockerfile from the base image with each package quoted: apt as root through the build\'s proxy, pip and npm as the sandbox user into its prefix', () => {
    const d = templateDockerfile({ packages: { pip: ['tabulate==0.9.0'], npm: ['lodash'], apt: ['jq'] } }, true);
    assert.match(d, /^ARG BASE_IMAGE\nFROM \$\{BASE_IMAGE\}\nUSER root\n/);
    const [asRoot, asUser] = d.split('\nUSER 1000:1000\n');
    assert.ok(asUser !== undefined && !/^USER /m.test(asUser), 'one switch to the sandbox user, never back');
    assert.match(asRoot, /apt-get -o Acquire::http::Proxy="\$http_proxy" -o Acquire::https::Proxy="\$https_proxy" .*install -y --no-install-recommends 'jq'/);
    assert.match(asRoot, /install -d -o 1000 -g 1000 \/opt\/durabox-template /);
    assert.match(asRoot, /ENV SANDBOX_TEMPLATE_PREFIX=\/opt\/durabox-template$/);
    assert.match(asUser, /PYTHONUSERBASE=\/opt\/durabox-template\/python PIP_CERT=\S+ python3 -m pip install --user .* 'tabulate==0.9.0'/);
    assert.match(asUser, /npm install -g --prefix \/opt\/durabox-template\/npm .* 'lodash'/);
    assert.doesNotMatch(asUser, /apt-get/);
    assert.doesNotMatch(asRoot, /pip install|npm install/);
    assert.match(d, /WORKDIR \/workspace\n$/);
    assert.doesNotMatch(templateDockerfile({ packages: { pip: [], npm: [], apt: [] } }, false), /RUN|COPY/);
  });

  it('keeps at most the given number of template pools: the least recently used one is closed, a used one is kept', async () => {
    const ready: string[] = [];
    const images = { ready: async (ref: TemplateRef) => { ready.push(ref.image); } } as unknown as TemplateImages;
    const limits: RuntimeLimits = { image: 'durabox/python:4', memoryBytes: 256 << 20, nanoCpus: 1e9, pidsLimit: 64, tmpfsBytes: 64 << 20, network: false };
    const pools = new TemplatePools(images, { docker: {} as Docker, workerId: 'w', limits, maxUses: 1, outputLimitBytes: 1024, pid1: () => Promise.reject(new Error('no sandbox is made here')) }, 2);
    const ref = (n: string): TemplateRef => ({ name: n, base: 'python', image: `durabox-template/python:${n}`, packages: { pip: [], npm: [], apt: [] }, network: 'none' });
    const a = await pools.pool(ref('a'));
    await pools.pool(ref('b'));
    assert.equal(await pools.pool(ref('a')), a, 'a known pool is reused');
    await pools.pool(ref('c'));
    assert.equal(pools.size, 2);
    assert.equal(await pools.pool(ref('a')), a, 'a, used last before c, is kept');
    assert.deepEqual(ready, ['durabox-template/python:a', 'durabox-template/python:b', 'durabox-template/python:c']);
    await pools.pool(ref('b'));
    assert.equal(ready.at(-1), 'durabox-template/python:b', 'b was closed: its pool is made again');
    await pools.evict('durabox-template/python:b');
    assert.equal(pools.size, 1);
    await pools.close();
  });
});
