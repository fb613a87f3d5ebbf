// The interpreter that runs durabox's own programs inside a sandbox (the keeper, the session agent, the
// kernels' driver): PID 1 of every container, the one process that speaks to the worker. It must never
// come from a template's image or its packages (spec §3.2): a template could replace `python3`, or a
// pip package could install a `.pth` file or a `sitecustomize` that runs in every interpreter, and so
// write what it likes to the worker. So each base runtime's own interpreter and standard library are
// copied once per host into a Docker volume (named by the base image's id), and every sandbox mounts it
// read-only at PID1_MOUNT and runs `python -I -S` from there: isolated from PYTHON* variables, the user's
// site directory and the working directory, and without `site`, so no installed package is imported.
// A volume, not a host folder, so that a worker that runs in a container itself (compose) works alike.
// The source it runs is composed here too (pid1Program), from the programs in sandbox/inside/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { sandboxProgramsDir } from '../config/paths.js';
import { LABEL_MANAGED } from './profile.js';

/** Where a sandbox sees the runtime; read-only. */
export const PID1_MOUNT = '/opt/durabox-pid1';
const PID1_PYTHON = `${PID1_MOUNT}/rt/bin/python3`;

export interface Pid1Runtime {
  /** The volume's mount, for HostConfig.Mounts. */
  mount: Docker.MountSettings;
  /** The command that runs a PID 1 program given as source. */
  command(source: string): string[];
}

/**
 * Copies the interpreter into its volume unless a complete copy is there. Two workers of one Docker
 * daemon may do this at once: each copies into a folder of its own and renames it into place, and the
 * one that finds the place taken drops its copy. The copy runs as root in the base image (durabox's own,
 * built by deploy/images/build.sh), with no network.
 */
export async function ensurePid1Runtime(docker: Docker, baseImage: string): Promise<Pid1Runtime> {
  const imageId = ((await docker.getImage(baseImage).inspect()) as { Id: string }).Id.replace(/^sha256:/, '');
  const volume = `durabox-pid1-${imageId.slice(0, 16)}`;
  await docker.createVolume({ Name: volume, Labels: { [LABEL_MANAGED]: 'true', 'io.durabox.pid1-image': baseImage } });
  const script = [
    'set -e',
    '[ -x /dst/rt/bin/python3 ] && [ -f /dst/rt/.complete ] && exit 0',
    'real=$(readlink -f /usr/bin/python3); v=$(basename "$real"); tmp=/dst/tmp.$$',
    'rm -rf "$tmp"; mkdir -p "$tmp/bin" "$tmp/lib"',
    'cp -a "$real" "$tmp/bin/python3"',
    'cp -a "/usr/lib/$v" "$tmp/lib/$v"',
    // What PID 1 never imports: the test suite, GUIs, pip's bootstrap (about half the size).
    'rm -rf "$tmp/lib/$v/test" "$tmp/lib/$v/idlelib" "$tmp/lib/$v/tkinter" "$tmp/lib/$v/ensurepip" "$tmp/lib/$v/lib2to3"',
    'touch "$tmp/.complete"; chmod -R a+rX,go-w "$tmp"',
    'rm -rf /dst/rt.incomplete; if [ -d /dst/rt ] && [ ! -f /dst/rt/.complete ]; then mv /dst/rt /dst/rt.incomplete; rm -rf /dst/rt.incomplete; fi',
    'mv -T "$tmp" /dst/rt 2>/dev/null || rm -rf "$tmp"',
    '[ -f /dst/rt/.complete ]',
  ].join('\n');
  const container = await docker.createContainer({
    Image: baseImage,
    Entrypoint: ['sh', '-c', script],
    Cmd: [],
    User: '0:0',
    NetworkDisabled: true,
    Labels: { [LABEL_MANAGED]: 'true' },
    HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: volume, Target: '/dst' }], LogConfig: { Type: 'json-file', Config: {} } },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    if (StatusCode !== 0) {
      const logs = (await container.logs({ stdout: true, stderr: true }).catch(() => Buffer.alloc(0))) as Buffer;
      throw new Error(`could not copy the sandbox interpreter of ${baseImage} (exit ${StatusCode}): ${logs.toString('utf8').slice(-2000)}`);
    }
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
  return {
    mount: { Type: 'volume', Source: volume, Target: PID1_MOUNT, ReadOnly: true },
    command: (source) => [PID1_PYTHON, '-I', '-S', '-c', source],
  };
}

/** The runtime of one base image, copied on first use and kept for the worker's life. */
export function pid1RuntimeOf(docker: Docker, baseImage: string): () => Promise<Pid1Runtime> {
  let made: Promise<Pid1Runtime> | undefined;
  return () => {
    made ??= ensurePid1Runtime(docker, baseImage).catch((e) => {
      made = undefined; // tried again by the next sandbox
      throw e;
    });
    return made;
  };
}

const read = (f: string) => readFileSync(join(sandboxProgramsDir, f), 'utf8');

/**
 * A PID 1 program for `python3 -c`, composed of the programs in sandbox/inside/: the shared prelude
 * (imports, set-up), the frames (send(), read_frame()), then, for a session's agent, the checkpoint
 * restore, then, for programs that run code cells, the interpreter kernels' sources and their driver,
 * then the script.
 */
export function pid1Program(script: string, opts: { kernels?: boolean; restore?: boolean; relay?: boolean } = {}): string {
  const parts = [read('pid1-prelude.py'), read('frames.py')];
  // The rules a checkpoint is unpacked by (restore_workspace), shared with the `docker exec` restore.
  if (opts.restore) parts.push(read('workspace-restore.py'));
  if (opts.kernels) {
    const kernels = {
      python: read('kernels/python-kernel.py'),
      javascript: read('kernels/javascript-kernel.js'),
      bash: read('kernels/bash-kernel.py'),
    };
    // JSON string literals are Python string literals too.
    parts.push(`KERNEL_SOURCES = ${JSON.stringify(kernels)}`, read('kernel-driver.py'));
  }
  // The workbench's streams (ports, the browser, terminals): threads of the session agent.
  if (opts.relay) parts.push(read('session-relay.py'));
  parts.push(read(script));
  return parts.join('\n');
}
