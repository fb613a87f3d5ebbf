// Reads a Server-Sent Events response as a client would: each event with when it arrived.
/** A program that prints a line, works for three seconds, then prints another. */
export const SLOW_PRINT = 'import time\nprint("first", flush=True)\ntime.sleep(3)\nprint("last")';

export interface SseEvent { event: string; data: any; id?: string; at: number }

export async function openEvents(url: string, init: RequestInit & { token: string }): Promise<{ status: number; type: string; events: AsyncGenerator<SseEvent> }> {
  const { token, headers, ...rest } = init;
  const res = await fetch(url, { ...rest, headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, ...(headers as Record<string, string> ?? {}) } });
  return { status: res.status, type: res.headers.get('content-type') ?? '', events: read(res) };
}

async function* read(res: Response): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(part, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: Partial<SseEvent> = {};
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = line.slice(0, i);
        const value = line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') e.event = value;
        else if (field === 'id') e.id = value;
        else if (field === 'data') data += value;
      }
      if (!e.event) continue;
      yield { event: e.event, id: e.id, data: data ? JSON.parse(data) : undefined, at: Date.now() };
    }
  }
}

/** Every event until the stream ends, or fails if it does not end within `timeoutMs`. */
export async function collect(events: AsyncGenerator<SseEvent>, timeoutMs = 60_000): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const all = (async () => {
    for await (const e of events) out.push(e);
    return out;
  })();
  try {
    return await Promise.race([all, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`the stream did not end within ${timeoutMs} ms; got ${out.map((e) => e.event).join(',')}`)), timeoutMs); })]);
  } finally {
    clearTimeout(timer);
  }
}
