// The two Docker baselines of spec §10, driven the way their names say: `cold` through the docker CLI
// (a fresh `docker run --rm` per execution, as the reference worker does) and `exec` through the
// Docker API into a container that is already running.
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { BENCH_LABEL } from './bench-containers.js';

export const PYTHON_IMAGE = process.env.DURABOX_PYTHON_IMAGE?.trim() || 'durabox/python:4';
export const TERMINAL_IMAGE = process.env.DURABOX_TERMINAL_IMAGE?.trim() || 'durabox/terminal:6';

/** One `docker run --rm --network none <python image> python3 -c 'print(1)'`; the label only lets cleanup find strays. */
export function coldRun(runTag: string, timeoutMs: number): Promise<void> {
  const args = ['run', '--rm', '--network', 'none', '--label', `${BENCH_LABEL}=${runTag}`, PYTHON_IMAGE, 'python3', '-c', 'print(1)'];
  return new Promise((resolve, reject) => {
    execFile('docker', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`docker run failed: ${err.message.trim()} ${stderr.trim()}`.trim()));
      if (stdout !== '1\n') return reject(new Error(`docker run printed ${JSON.stringify(stdout)}, expected "1\\n"`));
      resolve();
    });
  });
}

/** A long-running container to `docker exec` into; removed by the caller (or by cleanup). */
export async function startExecTarget(docker: Docker, runTag: string): Promise<Docker.Container> {
  const container = await docker.createContainer({
    Image: TERMINAL_IMAGE,
    Cmd: ['sleep', 'infinity'],
    Labels: { [BENCH_LABEL]: runTag },
    HostConfig: { NetworkMode: 'none', AutoRemove: true },
  });
  await container.start();
  return container;
}

/** exec create + start + read all output + inspect for the exit code: what one `docker exec` costs. */
export async function execEcho(container: Docker.Container): Promise<void> {
  const exec = await container.exec({ Cmd: ['echo', 'hi'], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  container.modem.demuxStream(stream, stdout, new PassThrough());
  // Some exec streams never emit 'end'; 'close' comes either way.
  await new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', reject);
  });
  await new Promise((r) => setImmediate(r)); // let the demuxer's last chunk reach `chunks`
  const info = await exec.inspect();
  const out = Buffer.concat(chunks).toString();
  if (info.ExitCode !== 0 || out !== 'hi\n') throw new Error(`docker exec echo hi: exit ${info.ExitCode}, output ${JSON.stringify(out)}`);
}
