// Tars made byte by byte, as a hostile host could write them: any name, type, link target and mode.

/** One tar member as a hostile host would write it: any name, type, link and mode. */
export interface Member { name: string; type?: '0' | '1' | '2' | '3' | '5' | '6'; data?: string | Buffer; linkname?: string; mode?: number; dev?: [number, number] }

export function header(m: Member, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number) => h.write(s, off, len, 'utf8');
  const oct = (n: number, off: number, len: number) => put(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len);
  put(m.name, 0, 100);
  oct(m.mode ?? 0o644, 100, 8);
  oct(1000, 108, 8);
  oct(1000, 116, 8);
  oct(size, 124, 12);
  oct(1_700_000_000, 136, 12);
  h.fill(' ', 148, 156);
  put(m.type ?? '0', 156, 1);
  put(m.linkname ?? '', 157, 100);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  oct(m.dev?.[0] ?? 0, 329, 8);
  oct(m.dev?.[1] ?? 0, 337, 8);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

export function tarOf(members: Member[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data ?? '');
    parts.push(header(m, data.length), data, pad(data.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

