// One page of workflows from Temporal's visibility store, newest first, with the total count.
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';

export interface Page<T> { items: T[]; total: number; page: number; page_size: number }

export function quote(v: string): string {
  return `'${v.replace(/['\\]/g, (c) => `\\${c}`)}'`;
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
