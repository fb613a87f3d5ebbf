// Templates (spec §3.2): a named sandbox image plus its limits and network policy. The built-in ones are
// the runtimes' own images; an account's are built from a base runtime and packages, on every host that
// serves the base. Package names are checked here, before any build: a name is one package, never an
// option, a URL or a shell word. Types and pure functions only, so workflow code may import the types.
import { z } from 'zod';

/** The runtimes a template may start from; each built-in template is named after its runtime. */
export const TEMPLATE_BASES = ['python', 'terminal'] as const;
export type TemplateBase = (typeof TEMPLATE_BASES)[number];

/**
 * The built-in `browser` template: terminal sessions in the browser image (the terminal image plus Debian's
 * Chromium, deploy/images/browser.Dockerfile), with the limits Chromium needs. An account template with
 * `browser: true` is built FROM that image and gets the same floors.
 */
export const BROWSER_TEMPLATE = 'browser';
export const BROWSER_IMAGE = 'durabox/browser:2';
/** Chromium with one page takes ~170 MiB and ~110 threads at about:blank; real pages take several times that. */
export const BROWSER_MIN_MEMORY_MB = 1024;
export const BROWSER_MIN_PIDS = 512;
export const BUILTIN_TEMPLATES: readonly string[] = [...TEMPLATE_BASES, BROWSER_TEMPLATE];

/**
 * none: no network; allowlist: only `allow`'s host:port patterns, through the host's egress proxy; full:
 * any public address, through the same proxy (never the host, its networks, other sandboxes or private
 * ranges). Which of them a platform offers is its operator's choice (DURABOX_TEMPLATE_NETWORKS).
 */
export const NETWORK_POLICIES = ['none', 'allowlist', 'full'] as const;
export type NetworkPolicy = (typeof NETWORK_POLICIES)[number];

// host:port, where host is a DNS name (optionally `*.` for any name under a domain) or an IP literal.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const ALLOW_ENTRY = new RegExp(`^(?:(?:\\*\\.)?(?:${LABEL}\\.)*${LABEL}|\\[[0-9a-f:.]+\\]):([0-9]{1,5})$`, 'i');
export const ALLOW_MAX = 100;

/** An allow-list: where a sandbox of the template may connect (spec §3.2). */
export const AllowList = z.array(
  z.string().max(260)
    .regex(ALLOW_ENTRY, 'must each be host:port: a DNS name, *.domain or an IP literal, then a port (no schemes, paths or ranges)')
    .refine((e) => { const port = Number(e.slice(e.lastIndexOf(':') + 1)); return port >= 1 && port <= 65_535; }, 'port must be 1..65535'),
).min(1).max(ALLOW_MAX);

export const templateName = z.string().min(1).max(63)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be 1..63 lowercase letters, digits, dash or underscore, starting with a letter or digit');

/** `template` on a call: a built-in name or one of the account's. */
export const templateField = templateName.optional().describe('The template to run in: python, terminal or browser (built-in; browser is a terminal session with headless Chromium) or one of the account\'s (GET /templates); default the capability\'s built-in one.');

// One package each: a name, optionally extras and one version constraint; nothing a shell or the package
// manager would read as an option or a location.
const PIP = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,-]+\])?(?:(?:===?|~=|!=|<=?|>=?)[A-Za-z0-9._*+!-]+)?$/;
const NPM = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*(?:@[A-Za-z0-9._^~<>=*-]+)?$/;
const APT = /^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+:~-]+)?$/;

const packageList = (re: RegExp, what: string, max: number) => z.array(
  z.string().max(214).regex(re, `must each be one ${what} package name, optionally with a version (no options, URLs or spaces)`),
).max(max).default([]);

export const TemplatePackages = z.strictObject({
  pip: packageList(PIP, 'Python package index', 50),
  npm: packageList(NPM, 'npm', 50),
  apt: packageList(APT, 'Debian', 50),
});

export const TemplateCreateBody = z.strictObject({
  name: templateName.describe('The template\'s name within the account (not python or terminal).'),
  base: z.enum(TEMPLATE_BASES).describe('The runtime it builds on and serves: python (pythonExec, runCode) or terminal (sessions).'),
  packages: TemplatePackages.default({ pip: [], npm: [], apt: [] }),
  network: z.enum(NETWORK_POLICIES).default('none').describe('none (default): no network; allowlist: only the host:port patterns of allow, through the host\'s egress proxy (HTTP proxy and DNS); full: any public address and port, through the same proxy (never the host, private ranges or other sandboxes; plain UDP has no route). Offered only where the operator allows it (DURABOX_TEMPLATE_NETWORKS; by default none and allowlist).'),
  allow: AllowList.optional().describe('With network allowlist: where its sandboxes may connect, e.g. ["pypi.org:443", "*.pythonhosted.org:443"]. Private and local addresses only where the operator opened them (DURABOX_EGRESS_PRIVATE_CIDRS).'),
  memory_mb: z.int().min(64).max(16_384).optional().describe('Memory limit of its sandboxes; default the base runtime\'s.'),
  cpus: z.number().min(0.1).max(64).optional().describe('CPU limit of its sandboxes; default the base runtime\'s.'),
  dockerfile: z.string().min(1).max(65_536).optional().describe('Admins only: the whole Dockerfile (build arg BASE_IMAGE names the base runtime\'s image); packages are then not allowed.'),
  browser: z.boolean().default(false).describe(`With base terminal: built on the browser template's image (headless Chromium for the browser tools) and given at least ${BROWSER_MIN_MEMORY_MB} MiB of memory and ${BROWSER_MIN_PIDS} processes.`),
}).superRefine((b, ctx) => {
  if (b.browser && b.base !== 'terminal') ctx.addIssue({ code: 'custom', path: ['browser'], message: 'only with base terminal: the browser serves sessions' });
  if (BUILTIN_TEMPLATES.includes(b.name)) ctx.addIssue({ code: 'custom', path: ['name'], message: `${b.name} is a built-in template` });
  if (b.network === 'allowlist' && b.allow === undefined) ctx.addIssue({ code: 'custom', path: ['allow'], message: 'required with network allowlist: the host:port patterns its sandboxes may reach' });
  if (b.network !== 'allowlist' && b.allow !== undefined) ctx.addIssue({ code: 'custom', path: ['allow'], message: 'only with network allowlist' });
  if (b.dockerfile !== undefined && (b.packages.pip.length + b.packages.npm.length + b.packages.apt.length) > 0) {
    ctx.addIssue({ code: 'custom', path: ['packages'], message: 'not allowed with dockerfile (install them in it)' });
  }
});
export type TemplateCreate = z.output<typeof TemplateCreateBody>;

const PackagesView = z.object({ pip: z.array(z.string()), npm: z.array(z.string()), apt: z.array(z.string()) });

export const TEMPLATE_STATUSES = ['building', 'ready', 'failed'] as const;
export type TemplateStatus = (typeof TEMPLATE_STATUSES)[number];

export const TemplateHostView = z.object({
  node_id: z.string(),
  status: z.enum(TEMPLATE_STATUSES),
  seconds: z.number().nullable().describe('how long the build took on this host'),
  log: z.string().describe('the end of the build\'s output'),
  updated_at: z.string(),
});

export const TemplateView = z.object({
  name: z.string(),
  base: z.enum(TEMPLATE_BASES),
  builtin: z.boolean(),
  packages: PackagesView,
  network: z.enum(NETWORK_POLICIES),
  allow: z.array(z.string()).describe('with network allowlist: the host:port patterns its sandboxes may reach; else empty'),
  memory_mb: z.int().nullable().describe('null: the base runtime\'s limit'),
  cpus: z.number().nullable().describe('null: the base runtime\'s limit'),
  dockerfile: z.boolean().describe('built from an admin\'s Dockerfile'),
  browser: z.boolean().describe('its sessions have headless Chromium (the browser tools)'),
  status: z.enum(TEMPLATE_STATUSES),
  error: z.string().nullable(),
  hosts: z.array(TemplateHostView).describe('each host\'s build, with the end of its log'),
  created_at: z.string().nullable(),
  updated_at: z.string().nullable(),
});
export type TemplateViewBody = z.output<typeof TemplateView>;
/** What this platform lets an account ask of a template (the operator's settings), so a form offers only that. */
export const TemplateOffer = z.object({
  networks: z.array(z.enum(NETWORK_POLICIES)).describe('the network policies a template may have here (DURABOX_TEMPLATE_NETWORKS)'),
  max_memory_mb: z.int().describe('the most memory_mb a template may ask for (DURABOX_TEMPLATE_MAX_MEMORY_MB)'),
  max_cpus: z.number().describe('the most cpus a template may ask for (DURABOX_TEMPLATE_MAX_CPUS)'),
});
export type TemplateOfferBody = z.output<typeof TemplateOffer>;
export const TemplateList = z.object({ items: z.array(TemplateView), total: z.int(), offered: TemplateOffer });

/**
 * What a host needs to build an account template and to run in it: the image tag (named after its
 * content, so the same packages on the same base are one image on a host) and what goes into it.
 */
export const TemplateRefSchema = z.object({
  name: z.string(),
  base: z.enum(TEMPLATE_BASES),
  image: z.string(),
  packages: PackagesView,
  dockerfile: z.string().optional(),
  network: z.enum(NETWORK_POLICIES),
  allow: z.array(z.string()).optional(),
  memoryMb: z.int().optional(),
  cpus: z.number().optional(),
  /** Built on (or, built-in, being) the browser image; its sandboxes get Chromium's floors of memory and processes. */
  browser: z.boolean().optional(),
  pidsLimit: z.int().optional(),
  /** A built-in template's image: made by deploy/images/build.sh, never built by a worker. */
  builtin: z.boolean().optional(),
});
export type TemplateRef = z.output<typeof TemplateRefSchema>;

/** The run-time reference of a built-in template other than a runtime's own (browser); undefined for python and terminal. */
export function builtinTemplateRef(name: string): TemplateRef | undefined {
  if (name !== BROWSER_TEMPLATE) return undefined;
  return {
    name, base: 'terminal', image: BROWSER_IMAGE, packages: { pip: [], npm: [], apt: [] }, network: 'none',
    memoryMb: BROWSER_MIN_MEMORY_MB, pidsLimit: BROWSER_MIN_PIDS, browser: true, builtin: true,
  };
}

/** The end of a build's output kept (and recorded per host): it says why a build failed. */
export const BUILD_LOG_MAX_CHARS = 64_000;

/** A host's answer to a build: failed builds are answers too (with their log), not errors. */
export interface TemplateBuildResult { ok: boolean; seconds: number; log: string }

export const RegistryTemplates = z.object({ items: z.array(TemplateRefSchema) });
export const RegistryTemplatesQuery = z.object({ runtimes: z.string().max(200).default('') });
export const RegistryTemplateBuilt = z.strictObject({ image: z.string().min(1).max(200), ok: z.boolean(), seconds: z.number().min(0), log: z.string().max(BUILD_LOG_MAX_CHARS) });
