/**
 * Running the real `openssl` binary from tests, in temporary directories that are always
 * removed. Interoperability is only proven by a second implementation reading our output.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The outcome of one command. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `openssl <args>` (never through a shell), optionally feeding `input` on stdin. */
export function openssl(args: readonly string[], options: { cwd?: string; input?: string | Uint8Array } = {}): Promise<CommandResult> {
  return run('openssl', args, options);
}

/** Run a command without a shell. */
export function run(command: string, args: readonly string[], options: { cwd?: string; input?: string | Uint8Array } = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    // A command that reads no stdin may exit before we finish writing: EPIPE is then expected,
    // and what counts is its exit code and output.
    child.stdin.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') reject(e);
    });
    child.stdin.end(options.input ?? '');
  });
}

/** True when an `openssl` binary is on PATH. */
export function hasOpenssl(): Promise<boolean> {
  return new Promise((resolve) => execFile('openssl', ['version'], (error) => resolve(error === null)));
}

/** Run `fn` in a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'mosaic-pki-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
