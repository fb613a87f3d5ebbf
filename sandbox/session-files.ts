// File operations inside a session's container, run as the sandbox user through `docker exec`.
// Every path is resolved inside the container (symlinks included) and must stay under the session's
// writable paths, so neither `../` nor a symlink can reach anything else.
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { DuraboxError, type ErrorCode } from '../contract/errors.js';
import type { FileEntry, FileOp, FileResult } from '../contract/messages.js';
import { applyEdit, checkGlob, globToFindRegex, parseGlobOutput, parseGrepOutput } from './file-patterns.js';
import { SANDBOX_USER } from './profile.js';
import { dockerExec } from './docker-exec.js';

/** The longest a file call may spend reading or writing a file: a FIFO or a stuck filesystem cannot hold it longer. */
const IO_LIMIT_SEC = 20;
/** The longest a move or a copy may take (a large tree copied, or moved across /workspace and /tmp). */
const TREE_LIMIT_SEC = 50;
/** Bytes of one grep output line kept inside the container: a match's text is cut far shorter (GREP_LINE_CHARS). */
const GREP_LINE_BYTES = 12_000;

const PRELUDE = `
set -u
inside() { case "$1" in /workspace|/workspace/*|/tmp|/tmp/*) return 0;; esac; echo "path escapes the session: $1" >&2; exit 3; }
newtop() { n=$1; [ ! -e "$n" ] || return 0; while [ ! -e "$(dirname -- "$n")" ]; do n=$(dirname -- "$n"); done; printf '%s' "$n"; }
p=$1
case "$p" in /*) ;; *) p="/workspace/$p";; esac
`;

/** A move's source: the entry itself (a symlink is moved, not followed), its directory inside the session. */
const SOURCE_ENTRY = `
d=$(realpath -e -- "$(dirname -- "$p")" 2>/dev/null) || { echo "no such file: $1" >&2; exit 4; }
inside "$d"
s="$d/$(basename -- "$p")"
case "$s" in /workspace|/tmp|*/.|*/..) echo "not a path that can be moved or copied: $1" >&2; exit 5;; esac
[ -e "$s" ] || [ -L "$s" ] || { echo "no such file: $1" >&2; exit 4; }
`;

/**
 * A move's or copy's target ($2): its directory resolved inside the session and created; an existing
 * entry there replaced only with overwrite ($3), and never a directory. A symlink at the target is
 * replaced itself, never written through.
 */
const TARGET_ENTRY = `
q=$2
case "$q" in /*) ;; *) q="/workspace/$q";; esac
td=$(realpath -m -- "$(dirname -- "$q")")
inside "$td"
t="$td/$(basename -- "$q")"
case "$t" in /workspace|/tmp|*/.|*/..) echo "not a target path: $2" >&2; exit 5;; esac
if [ -e "$t" ] || [ -L "$t" ]; then
  [ "$3" = 1 ] || { echo "$2 exists (set overwrite to replace it)" >&2; exit 8; }
  [ -L "$t" ] || [ ! -d "$t" ] || { echo "$2 is a directory: a move or copy never replaces one (name the full target path)" >&2; exit 5; }
fi
top=$(newtop "$td")
mkdir -p -- "$td" 2>/dev/null || { echo "cannot create directory: $td" >&2; exit 5; }
[ -n "$top" ] || top=$t
`;

/** The edit's own write: the file as the edit read it (its sha256, $2), or nothing is written. Stdin: the new content. */
const EDIT_WRITE = `${PRELUDE}
r=$(realpath -e -- "$p" 2>/dev/null) || { echo "no such file: $1" >&2; exit 4; }
inside "$r"
[ -f "$r" ] || { echo "not a regular file: $1" >&2; exit 5; }
now=$(timeout -s KILL ${IO_LIMIT_SEC} sha256sum < "$r" | cut -d' ' -f1)
[ "$now" = "$2" ] || { echo "$1 changed while it was being edited: read it again and retry" >&2; exit 7; }
timeout -s KILL ${IO_LIMIT_SEC} sh -c 'cat > "$1"' durabox-edit "$r" || { echo "cannot write $1" >&2; exit 5; }
stat -c '%s %a' -- "$r"
printf '%s' "$r"
`;

const SCRIPTS: Record<FileOp['op'], string> = {
  read: `${PRELUDE}
max=$2
r=$(realpath -e -- "$p" 2>/dev/null) || { echo "no such file: $1" >&2; exit 4; }
inside "$r"
if [ -d "$r" ]; then
  echo "DIR" >&2
  find "$r" -mindepth 1 -maxdepth 1 -printf '%y\\t%s\\t%T@\\t%f\\0' 2>/dev/null | head -z -n 10000
  exit 0
fi
[ -f "$r" ] || { echo "not a regular file: $1" >&2; exit 5; }
size=$(stat -c %s -- "$r")
[ "$size" -le "$max" ] || { echo "file is $size bytes, more than the limit of $max" >&2; exit 6; }
printf 'FILE %s %s\\n' "$size" "$(file --mime-type -b -- "$r" 2>/dev/null || echo application/octet-stream)" >&2
exec timeout -s KILL ${IO_LIMIT_SEC} cat -- "$r"
`,
  list: `${PRELUDE}
r=$(realpath -e -- "$p" 2>/dev/null) || { echo "no such directory: $1" >&2; exit 4; }
inside "$r"
[ -d "$r" ] || { echo "not a directory: $1" >&2; exit 5; }
find "$r" -mindepth 1 -maxdepth 1 -printf '%y\\t%s\\t%T@\\t%f\\0' 2>/dev/null | head -z -n 10000
`,
  write: `${PRELUDE}
d=$(realpath -m -- "$(dirname -- "$p")")
inside "$d"
mkdir -p -- "$d" 2>/dev/null || { echo "cannot create directory: $d" >&2; exit 5; }
t="$d/$(basename -- "$p")"
[ "$t" != /workspace ] && [ "$t" != /tmp ] || { echo "not a file path: $1" >&2; exit 5; }
if [ -L "$t" ]; then inside "$(realpath -m -- "$t")"; fi
[ ! -d "$t" ] || { echo "is a directory: $1" >&2; exit 5; }
[ ! -e "$t" ] || [ -f "$t" ] || { echo "not a regular file: $1" >&2; exit 5; }
# The open happens under the time limit too: a FIFO swapped in meanwhile cannot hold the call.
timeout -s KILL ${IO_LIMIT_SEC} sh -c 'cat > "$1"' durabox-write "$t" || { echo "cannot write $1 (not a regular file, or it took longer than ${IO_LIMIT_SEC} s)" >&2; exit 5; }
stat -c %s -- "$t"
printf '%s' "$t"
`,
  delete: `${PRELUDE}
d=$(realpath -e -- "$(dirname -- "$p")" 2>/dev/null) || { echo "no such file: $1" >&2; exit 4; }
inside "$d"
t="$d/$(basename -- "$p")"
case "$t" in /workspace|/tmp|/workspace/.|/tmp/.|*/..) echo "refusing to delete $1" >&2; exit 5;; esac
[ -e "$t" ] || [ -L "$t" ] || { echo "no such file: $1" >&2; exit 4; }
rm -rf -- "$t" || exit 5
printf '%s' "$t"
`,
  // Answers the real directory first, then the matching paths under it, sorted, one more than the limit.
  glob: `${PRELUDE}
r=$(realpath -e -- "$p" 2>/dev/null) || { echo "no such directory: $1" >&2; exit 4; }
inside "$r"
[ -d "$r" ] || { echo "not a directory: $1" >&2; exit 5; }
find /dev/null -regextype posix-extended -regex "$2" >/dev/null 2>&1 || { echo "pattern: not a glob this tool can match" >&2; exit 9; }
cd -- "$r" || exit 5
printf '%s\\0' "$r"
timeout -s KILL ${IO_LIMIT_SEC} find . -mindepth 1 -regextype posix-extended -regex "$2" -printf '%P\\0' 2>/dev/null | LC_ALL=C sort -z | head -z -n "$3"
`,
  // Answers the real path searched first, then grep -Z -n records (binary files skipped), one more than the limit.
  grep: `${PRELUDE}
r=$(realpath -e -- "$p" 2>/dev/null) || { echo "no such file or directory: $1" >&2; exit 4; }
inside "$r"
i=; [ "$4" = 1 ] && i=-i
err=$(grep -P $i -e "$2" /dev/null 2>&1 >/dev/null)
[ $? -le 1 ] || { echo "pattern: $err" >&2; exit 9; }
if [ -n "$5" ]; then find /dev/null -regextype posix-extended -regex "$5" >/dev/null 2>&1 || { echo "glob: not a glob this tool can match" >&2; exit 9; }; fi
printf '%s\\0' "$r"
if [ -f "$r" ]; then
  timeout -s KILL ${IO_LIMIT_SEC} grep -P -I -n -H -Z $i -e "$2" -- "$r" 2>/dev/null
elif [ -d "$r" ]; then
  cd -- "$r" || exit 5
  if [ -n "$5" ]; then
    timeout -s KILL ${IO_LIMIT_SEC} find . -type f -regextype posix-extended -regex "$5" -print0 2>/dev/null
  else
    timeout -s KILL ${IO_LIMIT_SEC} find . -type f -print0 2>/dev/null
  fi | LC_ALL=C sort -z | timeout -s KILL ${IO_LIMIT_SEC} xargs -0 -r grep -P -I -n -H -Z $i -e "$2" -- 2>/dev/null
else
  echo "not a regular file or directory: $1" >&2; exit 5
fi | cut -b 1-${GREP_LINE_BYTES} | head -n "$3"
`,
  edit: EDIT_WRITE,
  move: `${PRELUDE}${SOURCE_ENTRY}${TARGET_ENTRY}
timeout -s KILL ${TREE_LIMIT_SEC} mv -T -- "$s" "$t" || exit 5
printf 'D%s\\0A%s\\0' "$s" "$top"
`,
  // The source is followed to what it names (inside the session); a directory's own links are copied as links.
  copy: `${PRELUDE}
s=$(realpath -e -- "$p" 2>/dev/null) || { echo "no such file: $1" >&2; exit 4; }
inside "$s"
case "$s" in /workspace|/tmp) [ "$4" = 1 ] || { echo "is a directory: $1 (set recursive to copy it)" >&2; exit 5; };; esac
[ -f "$s" ] || [ -d "$s" ] || { echo "not a regular file or directory: $1" >&2; exit 5; }
[ ! -d "$s" ] || [ "$4" = 1 ] || { echo "is a directory: $1 (set recursive to copy it)" >&2; exit 5; }
${TARGET_ENTRY}
[ ! -L "$t" ] || rm -f -- "$t"
timeout -s KILL ${TREE_LIMIT_SEC} cp -R -P --preserve=mode,timestamps -T -- "$s" "$t" || exit 5
printf 'A%s\\0' "$top"
`,
  mkdir: `${PRELUDE}
r=$(realpath -m -- "$p")
inside "$r"
if [ -e "$r" ]; then
  [ -d "$r" ] || { echo "$1 exists and is not a directory" >&2; exit 8; }
  [ "$2" = 1 ] || { echo "$1 exists (set parents to accept an existing directory)" >&2; exit 8; }
  printf 'existed\\n'
  exit 0
fi
top=$(newtop "$r")
if [ "$2" = 1 ]; then
  mkdir -p -- "$r" || exit 5
else
  [ -d "$(dirname -- "$r")" ] || { echo "no such directory: $(dirname -- "$1") (set parents to create it)" >&2; exit 4; }
  mkdir -- "$r" || exit 5
fi
printf 'created\\nA%s\\0' "$top"
`,
};

const ERRORS: Record<number, ErrorCode> = {
  3: 'path_outside_session', 4: 'file_not_found', 5: 'invalid_path', 6: 'file_too_large', 7: 'conflict', 8: 'file_exists', 9: 'invalid_pattern',
};

/**
 * What a file call changed, for storing it before the call answers: one file written (its bytes at
 * hand) or one path deleted travel as a one-entry delta; a move, copy or mkdir names the trees it
 * removed and made (the topmost directory it created, when it made parents), read back as a tar.
 */
export type FileChange =
  | { kind: 'written'; path: string; content: Buffer; mode?: number }
  | { kind: 'deleted'; path: string }
  | { kind: 'trees'; deleted: string[]; added: string[] };

export async function sessionFileOp(container: Docker.Container, op: FileOp, limits: { maxBytes: number }): Promise<FileResult> {
  return (await runFileOp(container, op, limits)).result;
}

/** Runs one script as the sandbox user; a non-zero exit is the error its code stands for. */
async function runScript(container: Docker.Container, op: FileOp['op'], args: string[], opts: { stdin?: Buffer; limitBytes: number; waitMs?: number }): Promise<Buffer> {
  const r = await dockerExec(container, {
    cmd: ['sh', '-c', SCRIPTS[op], 'durabox-files', ...args],
    user: SANDBOX_USER,
    workingDir: '/workspace',
    stdin: opts.stdin,
    limitBytes: opts.limitBytes,
    waitMs: opts.waitMs ?? 60_000,
  });
  const message = r.stderr.toString('utf8').trim();
  if (r.exitCode !== 0) throw new DuraboxError(ERRORS[r.exitCode] ?? 'execution_failed', message || `file ${op} failed`);
  return r.stdout;
}

/** A file call's result and, for a call that changed the workspace, what it changed (FileChange). */
export async function runFileOp(container: Docker.Container, op: FileOp, limits: { maxBytes: number }): Promise<{ result: FileResult; changed?: FileChange }> {
  switch (op.op) {
    case 'read':
    case 'list':
      return { result: await readOrList(container, op, limits) };
    case 'write': {
      const content = Buffer.from(op.contentBase64, 'base64');
      const out = (await runScript(container, 'write', [op.path], { stdin: content, limitBytes: 64 * 1024 })).toString('utf8');
      const newline = out.indexOf('\n');
      return { result: { op: 'write', path: op.path, size: Number(out.slice(0, newline)) }, changed: { kind: 'written', path: out.slice(newline + 1), content } };
    }
    case 'delete': {
      const out = await runScript(container, 'delete', [op.path], { limitBytes: 64 * 1024 });
      return { result: { op: 'delete', path: op.path, deleted: true }, changed: { kind: 'deleted', path: out.toString('utf8') } };
    }
    case 'glob': {
      checkGlob(op.pattern, 'pattern');
      const out = await runScript(container, 'glob', [op.path, globToFindRegex(op.pattern), String(op.limit + 1)], { limitBytes: (op.limit + 1) * 4200 });
      const base = headField(out);
      const { matches, truncated } = parseGlobOutput(base.value, base.rest, op.limit);
      return { result: { op: 'glob', path: op.path, matches, truncated } };
    }
    case 'grep': {
      if (op.glob) checkGlob(op.glob, 'glob');
      const include = op.glob ? globToFindRegex(op.glob, true) : '';
      const out = await runScript(container, 'grep', [op.path, op.pattern, String(op.limit + 1), op.ignoreCase ? '1' : '0', include], { limitBytes: (op.limit + 1) * (GREP_LINE_BYTES + 1) + 8192 });
      const base = headField(out);
      const { matches, truncated } = parseGrepOutput(base.value, base.rest, op.limit);
      return { result: { op: 'grep', path: op.path, matches, truncated } };
    }
    case 'edit':
      return edit(container, op, limits);
    case 'move':
    case 'copy': {
      const flags = op.op === 'copy' ? [op.overwrite ? '1' : '0', op.recursive ? '1' : '0'] : [op.overwrite ? '1' : '0'];
      const out = await runScript(container, op.op, [op.path, op.to, ...flags], { limitBytes: 64 * 1024, waitMs: (TREE_LIMIT_SEC + 10) * 1000 });
      return { result: { op: op.op, path: op.path, to: op.to }, changed: treesOf(out) };
    }
    case 'mkdir': {
      const out = await runScript(container, 'mkdir', [op.path, op.parents ? '1' : '0'], { limitBytes: 64 * 1024 });
      const created = out.subarray(0, 8).toString('utf8') === 'created\n';
      return { result: { op: 'mkdir', path: op.path, created }, ...(created ? { changed: treesOf(out.subarray(8)) } : {}) };
    }
  }
}

async function readOrList(container: Docker.Container, op: Extract<FileOp, { op: 'read' | 'list' }>, limits: { maxBytes: number }): Promise<FileResult> {
  const maxBytes = op.op === 'read' ? Math.min(op.maxBytes, limits.maxBytes) : limits.maxBytes;
  const r = await dockerExec(container, {
    cmd: ['sh', '-c', SCRIPTS[op.op], 'durabox-files', op.path, String(maxBytes)],
    user: SANDBOX_USER,
    workingDir: '/workspace',
    limitBytes: maxBytes + 1024 * 1024,
    waitMs: 60_000,
  });
  const message = r.stderr.toString('utf8').trim();
  if (r.exitCode !== 0) throw new DuraboxError(ERRORS[r.exitCode] ?? 'execution_failed', message || `file ${op.op} failed`);
  if (op.op === 'list' || message.startsWith('DIR')) return { op: 'list', path: op.path, entries: parseListing(r.stdout) };
  const [, size, mime] = /^FILE (\d+) (\S+)/.exec(message) ?? [];
  return { op: 'read', path: op.path, size: Number(size ?? r.stdout.length), contentBase64: r.stdout.toString('base64'), mime: mime ?? 'application/octet-stream' };
}

/**
 * An exact search-and-replace: the file is read (within the file size limit), replaced here, and written
 * back only if nothing changed it meanwhile (its sha256 is checked in the container just before).
 */
async function edit(container: Docker.Container, op: Extract<FileOp, { op: 'edit' }>, limits: { maxBytes: number }): Promise<{ result: FileResult; changed: FileChange }> {
  const read = await readOrList(container, { op: 'read', path: op.path, maxBytes: limits.maxBytes }, limits);
  if (read.op !== 'read') throw new DuraboxError('invalid_path', `is a directory: ${op.path} (edit changes a file)`);
  const before = Buffer.from(read.contentBase64, 'base64');
  const { content, replacements } = applyEdit(before, op);
  if (content.length > limits.maxBytes) throw new DuraboxError('file_too_large', `the edited file would be ${content.length} bytes, more than the limit of ${limits.maxBytes}`);
  const digest = createHash('sha256').update(before).digest('hex');
  const out = (await runScript(container, 'edit', [op.path, digest], { stdin: content, limitBytes: 64 * 1024 })).toString('utf8');
  const newline = out.indexOf('\n');
  const [size, mode] = out.slice(0, newline).split(' ');
  return {
    result: { op: 'edit', path: op.path, replacements, size: Number(size) },
    changed: { kind: 'written', path: out.slice(newline + 1), content, mode: parseInt(mode, 8) },
  };
}

/** `D<path>\0` and `A<path>\0` records of a move, copy or mkdir: the trees it removed and made. */
function treesOf(out: Buffer): FileChange {
  const records = out.toString('utf8').split('\0').filter(Boolean);
  return { kind: 'trees', deleted: records.filter((r) => r.startsWith('D')).map((r) => r.slice(1)), added: records.filter((r) => r.startsWith('A')).map((r) => r.slice(1)) };
}

/**
 * A tar of trees under /workspace (`./name` members, links kept as links), read as the sandbox user:
 * `too_large` past `maxBytes` (not read further), `unreadable` when tar failed.
 */
export async function workspaceTrees(container: Docker.Container, names: string[], maxBytes: number): Promise<Buffer | 'too_large' | 'unreadable'> {
  const r = await dockerExec(container, {
    cmd: ['timeout', '-s', 'KILL', String(IO_LIMIT_SEC), 'tar', '-C', '/workspace', '-cf', '-', '--', ...names],
    user: SANDBOX_USER,
    workingDir: '/workspace',
    limitBytes: maxBytes,
    stopAtLimit: true,
    waitMs: 60_000,
  });
  if (r.stdoutTruncated) return 'too_large';
  // 1: a file changed while it was read; the archive is whole, and the next step's delta has the rest.
  return r.exitCode === 0 || r.exitCode === 1 ? r.stdout : 'unreadable';
}

/** The NUL-terminated field a script prints first (the real path it searched), and the rest. */
function headField(out: Buffer): { value: string; rest: Buffer } {
  const nul = out.indexOf(0);
  if (nul === -1) return { value: out.toString('utf8'), rest: Buffer.alloc(0) };
  return { value: out.subarray(0, nul).toString('utf8'), rest: out.subarray(nul + 1) };
}

export function parseListing(out: Buffer): FileEntry[] {
  const kinds: Record<string, FileEntry['type']> = { f: 'file', d: 'dir', l: 'symlink' };
  return out
    .toString('utf8')
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const [kind, size, mtime, ...name] = line.split('\t');
      return { name: name.join('\t'), type: kinds[kind] ?? 'other', size: Number(size), modified: new Date(Number(mtime) * 1000).toISOString() };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
