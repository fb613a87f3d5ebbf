// Accounts' templates (spec §3.2) and each host's build of them. The build itself is a Temporal workflow
// (workflows/template.ts); these rows are what it reports, read by GET /templates and by every call that
// names a template.
import { BUILD_LOG_MAX_CHARS, type TemplateBase, type TemplateRef, type TemplateStatus } from '../contract/templates.js';
import type { Db } from './index.js';
import { rowsTouched } from './index.js';

export interface TemplateRow {
  id: string;
  account_id: string;
  name: string;
  base: TemplateBase;
  image: string;
  spec: TemplateRef;
  status: TemplateStatus;
  error: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface TemplateHostRow { node_id: string; status: TemplateStatus; seconds: number | null; log: string; updated_at: Date }


export class TemplateStore {
  constructor(private readonly db: Db) {}

  /** Adds a template in `building`; false when the account already has one of that name. */
  async create(row: Omit<TemplateRow, 'status' | 'error' | 'created_at' | 'updated_at'>): Promise<boolean> {
    const inserted = await this.db('templates')
      .insert({ ...row, spec: JSON.stringify(row.spec), status: 'building' })
      .onConflict(['account_id', 'name']).ignore()
      .returning('id');
    return inserted.length > 0;
  }

  async get(accountId: string, name: string): Promise<TemplateRow | undefined> {
    const r = await this.db('templates').where({ account_id: accountId, name }).first();
    return r ? row(r) : undefined;
  }

  async list(accountId: string): Promise<TemplateRow[]> {
    return (await this.db('templates').where({ account_id: accountId }).orderBy('name')).map(row);
  }

  /** Every host's build of these templates, by template id. */
  async hostsOf(ids: string[]): Promise<Map<string, TemplateHostRow[]>> {
    const out = new Map<string, TemplateHostRow[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const rows = await this.db('template_hosts').whereIn('template_id', ids).orderBy('node_id');
    for (const r of rows) {
      out.get(r.template_id)?.push({ node_id: r.node_id, status: r.status, seconds: r.seconds === null ? null : Number(r.seconds), log: r.log, updated_at: new Date(r.updated_at) });
    }
    return out;
  }

  /** The templates a host serving these runtimes should have: ready ones, each image once. */
  async readyFor(bases: string[]): Promise<TemplateRef[]> {
    if (bases.length === 0) return [];
    const rows = await this.db('templates').whereIn('base', bases).andWhere({ status: 'ready' }).orderBy('created_at');
    const byImage = new Map<string, TemplateRef>();
    for (const r of rows.map(row)) if (!byImage.has(r.image)) byImage.set(r.image, r.spec);
    return [...byImage.values()];
  }

  /** One host's build: of one template (from its build workflow) or of every template with that image. */
  async recordHost(where: { templateId: string } | { image: string }, nodeId: string, h: { status: TemplateStatus; seconds: number | null; log: string }): Promise<void> {
    const ids = 'templateId' in where
      ? [where.templateId]
      : (await this.db('templates').select('id').where({ image: where.image })).map((r: { id: string }) => r.id);
    for (const id of ids) {
      // A template deleted meanwhile has no row to report to: its build's answer is dropped.
      if (!(await this.db('templates').select('id').where({ id }).first())) continue;
      await this.db('template_hosts')
        .insert({ template_id: id, node_id: nodeId, status: h.status, seconds: h.seconds, log: h.log.slice(-BUILD_LOG_MAX_CHARS), updated_at: new Date() })
        .onConflict(['template_id', 'node_id']).merge(['status', 'seconds', 'log', 'updated_at']);
    }
  }

  /** The build's outcome; a template deleted meanwhile stays deleted. */
  async finish(templateId: string, status: TemplateStatus, error: string | null): Promise<void> {
    await this.db('templates').where({ id: templateId }).update({ status, error, updated_at: new Date() });
  }

  /** Whether any template (of any account, in any state) names this image. */
  async imageInUse(image: string): Promise<boolean> {
    return (await this.db('templates').select('id').where({ image }).first()) !== undefined;
  }

  async delete(accountId: string, name: string): Promise<TemplateRow | undefined> {
    const found = await this.get(accountId, name);
    if (!found) return undefined;
    // Its hosts' rows go with it (foreign key, cascading).
    return rowsTouched(await this.db('templates').where({ id: found.id }).delete()) > 0 ? found : undefined;
  }
}

function row(r: Record<string, unknown>): TemplateRow {
  return {
    ...(r as unknown as TemplateRow),
    spec: (typeof r.spec === 'string' ? JSON.parse(r.spec) : r.spec) as TemplateRef,
    created_at: new Date(r.created_at as string),
    updated_at: new Date(r.updated_at as string),
  };
}
