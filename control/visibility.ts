// One page of workflows from Temporal's visibility store, newest first, with the total count.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { SA_HOST } from '../contract/search-attributes.js';

export interface Page<T> { items: T[]; total: number; page: number; page_size: number }

export function quote(v: string): string {
  return `'${v.replace(/['\\]/g, (c) => `\\${c}`)}'`;
}

/** The containers of the sessions whose workflows still run on a host (its reaper keeps only these). */
export async function liveSessionContainers(client: Client, workerId: string): Promise<string[]> {
  const ids: string[] = [];
  const q = `WorkflowType = 'sessionWorkflow' AND ${SA_HOST.name} = ${quote(workerId)} AND ExecutionStatus = 'Running'`;
  for await (const w of client.workflow.list({ query: q })) {
    const id = (w.memo as { container_id?: string } | undefined)?.container_id;
    if (id) ids.push(id);
  }
  return ids;
}

export async function listPage<T>(client: Client, query: string, page: number, pageSize: number, item: (w: WorkflowExecutionInfo) => T): Promise<Page<T>> {
  const { count } = await client.workflow.count(query);
  const items: T[] = [];
  const skip = (page - 1) * pageSize;
  let i = 0;
  for await (const w of client.workflow.list({ query, pageSize: Math.min(1000, skip + pageSize) })) {
    if (i++ < skip) continue;
    items.push(item(w));
    if (items.length >= pageSize) break;
  }
  return { items, total: count, page, page_size: pageSize };
}
