// The pure parts of the session file tools (docs/workbench/file-tools.md): a glob turned into the
// POSIX extended regular expression `find -regex` matches whole paths with, an exact search-and-replace
// on a file's bytes, and the parsing of what find and grep print. No I/O: unit-tested alone.
import { DuraboxError } from '../contract/errors.js';
import type { GrepMatch } from '../contract/messages.js';

/** Characters a grep match's text keeps; a longer line (minified code, data) is cut, marked with "…". */
export const GREP_LINE_CHARS = 500;

/** ERE characters that stand for themselves only once escaped. */
const ERE_SPECIAL = new Set(['.', '+', '(', ')', '|', '^', '$', '\\', '{', '}', '[', ']', '*', '?']);

/**
 * A glob as an ERE matching a whole path relative to where the search starts (find prints `./a/b`):
 * `*` any characters but `/`, `?` one of them, `**` any run of directories (`**\/` also none), `[abc]`
 * and `[!abc]` a class, `{a,b}` either. A pattern without `/` matches at any depth when `anyDepth`.
 */
export function globToFindRegex(glob: string, anyDepth = false): string {
  const pattern = glob.replace(/^\.\//, '');
  const prefix = anyDepth && !pattern.includes('/') ? '\\./(.*/)?' : '\\./';
  return prefix + convert(pattern, 0, false).regex;
}

/** Refuses globs no path under the search can match, naming the field. */
export function checkGlob(glob: string, field: string): void {
  if (glob.startsWith('/')) throw new DuraboxError('invalid_pattern', `${field}: must be relative to path (start it without /)`);
  if (glob.split('/').includes('..')) throw new DuraboxError('invalid_pattern', `${field}: must not contain .. segments`);
  let depth = 0;
  for (const c of glob) {
    if (c === '{') depth++;
    if (c === '}' && --depth < 0) break;
  }
  if (depth !== 0) throw new DuraboxError('invalid_pattern', `${field}: unbalanced { } in ${JSON.stringify(glob)}`);
}

/** Converts from `i` until the end, or (inside braces) until the closing `}`, answering where it stopped. */
function convert(g: string, start: number, inBraces: boolean): { regex: string; end: number } {
  let out = '';
  let i = start;
  while (i < g.length) {
    const c = g[i];
    if (inBraces && (c === '}' || c === ',')) return { regex: out, end: i };
    if (c === '*' && g[i + 1] === '*') {
      const atStart = i === 0 || g[i - 1] === '/';
      const slashAfter = g[i + 2] === '/';
      if (atStart && slashAfter) { out += '(.*/)?'; i += 3; continue; }
      out += '.*';
      i += 2;
      continue;
    }
    if (c === '*') { out += '[^/]*'; i++; continue; }
    if (c === '?') { out += '[^/]'; i++; continue; }
    if (c === '[') {
      const cls = bracket(g, i);
      if (cls) { out += cls.regex; i = cls.end; continue; }
    }
    if (c === '{') {
      const alternatives: string[] = [];
      let j = i + 1;
      for (;;) {
        const part = convert(g, j, true);
        alternatives.push(part.regex);
        if (part.end >= g.length) return { regex: out + '\\{' + alternatives.join(','), end: part.end };
        j = part.end + 1;
        if (g[part.end] === '}') break;
      }
      out += `(${alternatives.join('|')})`;
      i = j;
      continue;
    }
    out += ERE_SPECIAL.has(c) ? `\\${c}` : c;
    i++;
  }
  return { regex: out, end: i };
}

/** A `[...]` class as an ERE bracket expression (never matching `/`); undefined when it does not close. */
function bracket(g: string, start: number): { regex: string; end: number } | undefined {
  let i = start + 1;
  const negate = g[i] === '!' || g[i] === '^';
  if (negate) i++;
  let body = '';
  // A `]` first in the class is one of its members.
  if (g[i] === ']') { body += ']'; i++; }
  while (i < g.length && g[i] !== ']') {
    if (g[i] === '/') return undefined;
    body += g[i];
    i++;
  }
  if (i >= g.length || body === '') return undefined;
  return { regex: negate ? `[^/${body}]` : `[${body}]`, end: i + 1 };
}

/** How many times `needle` occurs in `hay`, not overlapping, counting from the left (as replacing does). */
export function occurrences(hay: Buffer, needle: Buffer): number {
  let n = 0;
  for (let at = hay.indexOf(needle); at !== -1; at = hay.indexOf(needle, at + needle.length)) n++;
  return n;
}

/**
 * An edit of a file's bytes: `oldText` replaced by `newText` (UTF-8), once, or everywhere with
 * `replaceAll`. Missing text is edit_no_match; text found more than once without replaceAll is
 * edit_ambiguous, saying how many times.
 */
export function applyEdit(content: Buffer, edit: { path: string; oldText: string; newText: string; replaceAll?: boolean }): { content: Buffer; replacements: number } {
  const from = Buffer.from(edit.oldText, 'utf8');
  const to = Buffer.from(edit.newText, 'utf8');
  const count = occurrences(content, from);
  if (count === 0) throw new DuraboxError('edit_no_match', `old_text was not found in ${edit.path} (it must match exactly, whitespace and line endings included: read the file first)`);
  if (count > 1 && !edit.replaceAll) {
    throw new DuraboxError('edit_ambiguous', `old_text appears ${count} times in ${edit.path}: add surrounding lines to make it unique, or set replace_all to replace all ${count}`);
  }
  const pieces: Buffer[] = [];
  let last = 0;
  for (let at = content.indexOf(from); at !== -1; at = content.indexOf(from, at + from.length)) {
    pieces.push(content.subarray(last, at), to);
    last = at + from.length;
  }
  pieces.push(content.subarray(last));
  return { content: Buffer.concat(pieces), replacements: count };
}

/** NUL-separated paths relative to `base`, as absolute paths: at most `limit`, and whether there were more. */
export function parseGlobOutput(base: string, out: Buffer, limit: number): { matches: string[]; truncated: boolean } {
  const rel = out.toString('utf8').split('\0').filter(Boolean);
  const under = base.endsWith('/') ? base : `${base}/`;
  return { matches: rel.slice(0, limit).map((r) => under + r), truncated: rel.length > limit };
}

/**
 * grep's `-Z -n` output (`file\0line:text\n` per match, the file named relative to `base` as `./x`, or
 * absolute) as matches: at most `limit`, and whether there were more. A file name may hold a newline;
 * it never holds a NUL, and a line never holds a newline, so the records split without doubt.
 */
export function parseGrepOutput(base: string, out: Buffer, limit: number): { matches: GrepMatch[]; truncated: boolean } {
  const matches: GrepMatch[] = [];
  let at = 0;
  while (at < out.length) {
    const nul = out.indexOf(0, at);
    if (nul === -1) break;
    const name = out.subarray(at, nul).toString('utf8');
    const eol = out.indexOf(0x0a, nul + 1);
    const record = out.subarray(nul + 1, eol === -1 ? out.length : eol).toString('utf8');
    at = eol === -1 ? out.length : eol + 1;
    const colon = record.indexOf(':');
    const line = Number(record.slice(0, colon));
    if (colon < 1 || !Number.isInteger(line)) continue;
    if (matches.length === limit) return { matches, truncated: true };
    matches.push({ path: absolute(base, name), line, text: cut(record.slice(colon + 1)) });
  }
  return { matches, truncated: false };
}

function absolute(base: string, name: string): string {
  if (name.startsWith('/')) return name;
  const rel = name.replace(/^\.\//, '');
  return base.endsWith('/') ? base + rel : `${base}/${rel}`;
}

function cut(line: string): string {
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const chars = [...text];
  return chars.length > GREP_LINE_CHARS ? `${chars.slice(0, GREP_LINE_CHARS).join('')}…` : text;
}
