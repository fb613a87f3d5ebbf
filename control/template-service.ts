// Templates (spec §3.2): an account's own are rows built by a Temporal workflow on every host serving
// their base; the built-in ones are the runtimes' images. Every call that names a template resolves it
// here, per account: another account's name is not found, and only a ready template runs anything.
import { createHash, randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { DuraboxError } from '../contract/errors.js';
import { BUILTIN_TEMPLATES, builtinTemplateRef, type TemplateBase, type TemplateCreate, type TemplateOfferBody, type TemplateRef, type TemplateViewBody } from '../contract/templates.js';
import { CONTROL_TASK_QUEUE } from '../contract/queues.js';
import type { TemplateHostRow, TemplateRow, TemplateStore } from '../db/templates.js';
import { templateBuildWorkflow, templatePruneWorkflow } from '../workflows/template.js';
import { SA_ACCOUNT } from '../contract/search-attributes.js';
import type { Quotas } from './quotas.js';
import type { NetworkPolicy } from '../contract/templates.js';

/** The image tag of a template's content: the same base and packages are one image on a host, whoever asked. */
export function templateImage(ref: Pick<TemplateRef, 'base' | 'packages' | 'dockerfile' | 'browser'>): string {
  // `browser` only when set, so the images of templates made before it keep their names.
  const digest = createHash('sha256').update(JSON.stringify([ref.base, ref.packages, ref.dockerfile ?? null, ...(ref.browser ? ['browser'] : [])])).digest('hex');
  return `durabox-template/${ref.base}:${digest.slice(0, 32)}`;
}

export const templateBuildId = (templateId: string): string => `template-build-${templateId}`;

export const templatePruneId = (templateId: string): string => `template-prune-${templateId}`;

export interface TemplateTimeouts { hostTimeoutMs: number; buildTimeoutMs: number }

/** The operator's template policy, read at each create (the API's settings object: DURABOX_TEMPLATE_NETWORKS, and the largest sandbox limits a template may ask for, DURABOX_TEMPLATE_MAX_MEMORY_MB and DURABOX_TEMPLATE_MAX_CPUS). */
export interface TemplatePolicy { templateNetworks: NetworkPolicy[]; templateMax?: { memoryMb: number; cpus: number } }

export class TemplateService {
  constructor(
    private readonly client: Client,
    private readonly store: TemplateStore,
    private readonly quotas: Quotas,
    private readonly timeouts: TemplateTimeouts,
    private readonly policy: TemplatePolicy = { templateNetworks: ['none', 'allowlist'] },
  ) {}

  /** What an account may ask of a template here: the operator's policy, for admins too. */
  offered(): TemplateOfferBody {
    const caps = this.policy.templateMax ?? { memoryMb: 4096, cpus: 2 };
    return { networks: [...this.policy.templateNetworks], max_memory_mb: caps.memoryMb, max_cpus: caps.cpus };
  }

  /** Adds the template in `building` and starts its build workflow. */
  async create(accountId: string, isAdmin: boolean, body: TemplateCreate): Promise<TemplateViewBody> {
    if (body.dockerfile !== undefined && !isAdmin) {
      throw new DuraboxError('forbidden', 'dockerfile: only admins may build from a Dockerfile (a build runs with the host\'s Docker); give packages instead');
    }
    // The operator's policy, for admins too: a `full` sandbox reaches the public internet from this platform's hosts.
    const offered = this.offered().networks;
    if (!offered.includes(body.network)) {
      throw new DuraboxError('invalid_input', `network: ${body.network} is not offered on this platform (DURABOX_TEMPLATE_NETWORKS allows ${offered.join(', ')})`);
    }
    const caps = this.offered();
    if (body.memory_mb !== undefined && body.memory_mb > caps.max_memory_mb) {
      throw new DuraboxError('invalid_input', `memory_mb: at most ${caps.max_memory_mb} on this platform (DURABOX_TEMPLATE_MAX_MEMORY_MB)`);
    }
    if (body.cpus !== undefined && body.cpus > caps.max_cpus) {
      throw new DuraboxError('invalid_input', `cpus: at most ${caps.max_cpus} on this platform (DURABOX_TEMPLATE_MAX_CPUS)`);
    }
    await this.quotas.admitTemplate(accountId);
    const ref: TemplateRef = {
      name: body.name,
      base: body.base,
      image: '',
      packages: body.packages,
      network: body.network,
      ...(body.allow !== undefined ? { allow: body.allow } : {}),
      ...(body.dockerfile !== undefined ? { dockerfile: body.dockerfile } : {}),
      ...(body.memory_mb !== undefined ? { memoryMb: body.memory_mb } : {}),
      ...(body.cpus !== undefined ? { cpus: body.cpus } : {}),
      ...(body.browser ? { browser: true } : {}),
    };
    ref.image = templateImage(ref);
    const id = `tpl_${randomBytes(12).toString('hex')}`;
    if (!(await this.store.create({ id, account_id: accountId, name: body.name, base: body.base, image: ref.image, spec: ref }))) {
      throw new DuraboxError('conflict', `name: the account already has a template named ${body.name}`);
    }
    await this.client.workflow.start(templateBuildWorkflow, {
      workflowId: templateBuildId(id),
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ templateId: id, ref, ...this.timeouts }],
      // Whose build it is, as every workflow of the platform says (visibility, the Temporal UI).
      typedSearchAttributes: [{ key: SA_ACCOUNT, value: accountId }],
    });
    return (await this.get(accountId, body.name))!;
  }

  async list(accountId: string): Promise<TemplateViewBody[]> {
    const rows = await this.store.list(accountId);
    const hosts = await this.store.hostsOf(rows.map((r) => r.id));
    return [...BUILTIN_TEMPLATES.map(builtinView), ...rows.map((r) => view(r, hosts.get(r.id) ?? []))];
  }

  async get(accountId: string, name: string): Promise<TemplateViewBody | undefined> {
    if (BUILTIN_TEMPLATES.includes(name)) return builtinView(name);
    const row = await this.store.get(accountId, name);
    if (!row) return undefined;
    return view(row, (await this.store.hostsOf([row.id])).get(row.id) ?? []);
  }

  /**
   * Deletes the account's template: a build still running is cancelled (each host aborts its docker
   * build), new calls naming it are not found, and what already runs on it (a task, a session) keeps its
   * image and ends as it would have. Its image then goes from every host, unless another template (this
   * account's or another's: images are named by content) still names it.
   */
  async delete(accountId: string, name: string): Promise<void> {
    if (BUILTIN_TEMPLATES.includes(name)) throw new DuraboxError('forbidden', `${name} is a built-in template`);
    const row = await this.store.delete(accountId, name);
    if (!row) throw new DuraboxError('template_not_found', `no template ${name}`);
    // Cancelled whatever the row said: a build's status is written after its last host answered.
    await this.client.workflow.getHandle(templateBuildId(row.id)).cancel().catch(() => undefined);
    if (await this.store.imageInUse(row.image)) return;
    await this.client.workflow.start(templatePruneWorkflow, {
      workflowId: templatePruneId(row.id),
      taskQueue: CONTROL_TASK_QUEUE,
      args: [{ image: row.image, base: row.base }],
      typedSearchAttributes: [{ key: SA_ACCOUNT, value: accountId }],
    }).catch(() => undefined);
  }

  /**
   * The template a call names, for the runtime it needs: undefined for the runtime's own built-in image;
   * the account's ready template otherwise. Anything else is refused before any work starts.
   */
  async resolve(accountId: string, name: string | undefined, runtime: string): Promise<TemplateRef | undefined> {
    if (name === undefined) return undefined;
    if (BUILTIN_TEMPLATES.includes(name)) {
      const builtin = builtinTemplateRef(name);
      if (builtin) {
        if (builtin.base !== runtime) throw new DuraboxError('invalid_input', `template: ${name} runs sessions (the ${builtin.base} runtime); this call runs on ${runtime}`);
        return builtin;
      }
      if (name !== runtime) throw new DuraboxError('invalid_input', `template: ${name} is the ${name} runtime's; this call runs on ${runtime}`);
      return undefined;
    }
    const row = await this.store.get(accountId, name);
    if (!row) throw new DuraboxError('template_not_found', `template: no template ${name}`);
    if (row.base !== runtime) throw new DuraboxError('invalid_input', `template: ${name} is built on ${row.base}; this call runs on ${runtime}`);
    if (row.status !== 'ready') {
      throw new DuraboxError('template_not_ready', row.status === 'building' ? `template: ${name} is still building` : `template: ${name} failed to build (${row.error ?? 'see its log'})`);
    }
    return row.spec;
  }
}

function builtinView(name: string): TemplateViewBody {
  const ref = builtinTemplateRef(name);
  return {
    name, base: ref?.base ?? (name as TemplateBase), builtin: true, packages: { pip: [], npm: [], apt: [] }, network: 'none', allow: [],
    memory_mb: ref?.memoryMb ?? null, cpus: null, dockerfile: false, browser: ref?.browser ?? false,
    status: 'ready', error: null, hosts: [], created_at: null, updated_at: null,
  };
}

function view(r: TemplateRow, hosts: TemplateHostRow[]): TemplateViewBody {
  return {
    name: r.name,
    base: r.base,
    builtin: false,
    packages: r.spec.packages,
    network: r.spec.network,
    allow: r.spec.allow ?? [],
    memory_mb: r.spec.memoryMb ?? null,
    cpus: r.spec.cpus ?? null,
    dockerfile: r.spec.dockerfile !== undefined,
    browser: r.spec.browser === true,
    status: r.status,
    error: r.error,
    hosts: hosts.map((h) => ({ node_id: h.node_id, status: h.status, seconds: h.seconds, log: h.log, updated_at: h.updated_at.toISOString() })),
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}
