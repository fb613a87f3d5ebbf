// File operations inside a session's container, run as the sandbox user through `docker exec`.
// Every path is resolved inside the container (symlinks included) and must stay under the session's
// writable paths, so neither `../` nor a symlink can reach anything else.
import type Docker from 'dockerode';
import { DuraboxError, type ErrorCode } from '../contract/errors.js';
import type { FileEntry, FileOp, FileResult } from '../contract/messages.js';
import { SANDBOX_USER } from './profile.js';
import { dockerExec } from './docker-exec.js';

/** The longest a file call may spend reading or writing a file: a FIFO or a stuck filesystem cannot hold it longer. */
const IO_LIMIT_SEC = 20;

const PRELUDE = `
set -u
inside() { case "$1" in /workspace|/workspace/*|/tmp|/tmp/*) return 0;; esac; echo "path escapes the session: $1" >&2; exit 3; }
p=$1
case "$p" in /*) ;; *) p="/workspace/$p";; esac
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
};

const ERRORS: Record<number, ErrorCode> = { 3: 'path_outside_session', 4: 'file_not_found', 5: 'invalid_path', 6: 'file_too_large' };

export async function sessionFileOp(container: Docker.Container, op: FileOp, limits: { maxBytes: number }): Promise<FileResult> {
  return (await runFileOp(container, op, limits)).result;
}

/** A file call's result and, for a write or a delete, the path it changed as the container resolved it. */
export async function runFileOp(container: Docker.Container, op: FileOp, limits: { maxBytes: number }): Promise<{ result: FileResult; changed?: { path: string; op: FileOp } }> {
  const stdin = op.op === 'write' ? Buffer.from(op.contentBase64, 'base64') : undefined;
  const maxBytes = op.op === 'read' ? Math.min(op.maxBytes, limits.maxBytes) : limits.maxBytes;
  const r = await dockerExec(container, {
    cmd: ['sh', '-c', SCRIPTS[op.op], 'durabox-files', op.path, String(maxBytes)],
    user: SANDBOX_USER,
    workingDir: '/workspace',
    stdin,
    limitBytes: maxBytes + 1024 * 1024,
    waitMs: 60_000,
  });
  const message = r.stderr.toString('utf8').trim();
  if (r.exitCode !== 0) {
    throw new DuraboxError(ERRORS[r.exitCode] ?? 'execution_failed', message || `file ${op.op} failed`);
  }
  switch (op.op) {
    case 'read': {
      if (message.startsWith('DIR')) return { result: { op: 'list', path: op.path, entries: parseListing(r.stdout) } };
      const [, size, mime] = /^FILE (\d+) (\S+)/.exec(message) ?? [];
      return { result: { op: 'read', path: op.path, size: Number(size ?? r.stdout.length), contentBase64: r.stdout.toString('base64'), mime: mime ?? 'application/octet-stream' } };
    }
    case 'list':
      return { result: { op: 'list', path: op.path, entries: parseListing(r.stdout) } };
    case 'write': {
      const out = r.stdout.toString('utf8');
      const newline = out.indexOf('\n');
      return { result: { op: 'write', path: op.path, size: Number(out.slice(0, newline)) }, changed: { path: out.slice(newline + 1), op } };
    }
    case 'delete':
      return { result: { op: 'delete', path: op.path, deleted: true }, changed: { path: r.stdout.toString('utf8'), op } };
  }
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
