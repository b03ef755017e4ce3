/**
 * The one place where results and errors meet the terminal: `--json` or human text, colour
 * only on a TTY without NO_COLOR, and the error → exit code mapping of CONTRACT.md.
 */
import { displayed } from './render/text.js';

export const ExitCode = { ok: 0, failure: 1, usage: 2, auth: 4, cancelled: 130 } as const;

export interface OutputOptions {
  json: boolean;
  color: boolean;
  quiet: boolean;
  verbose: boolean;
}

export function colorWanted(flag: boolean | undefined, json: boolean, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (flag === false || json) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const codes = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39], magenta: [35, 39] } as const;
export type Style = keyof typeof codes;

export function paint(on: boolean, style: Style, text: string): string {
  if (!on) return text;
  const [a, b] = codes[style];
  return `\u001b[${a}m${text}\u001b[${b}m`;
}

/** Print a command's result: the JSON body with --json, else the human text. */
export function printResult(out: OutputOptions, body: unknown, human: () => string): void {
  if (out.json) {
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    return;
  }
  if (out.quiet) return;
  const text = human();
  if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** An error as the CLI reports it: code, message, what to do, exit code. */
export interface CliError {
  code: string;
  message: string;
  remediation?: string | undefined;
  exitCode: number;
  detail?: string | undefined;
}

/** Map any thrown value to what the user sees and the exit code (never a stack for an expected error). */
export function toCliError(err: unknown): CliError {
  const e = err as { code?: unknown; message?: unknown; remediation?: unknown; statusCode?: unknown; status?: unknown; name?: unknown; details?: unknown };
  const isCoded = err instanceof Error && typeof e.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(e.code);
  if (!isCoded) {
    return {
      code: 'INTERNAL',
      message: `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
      remediation: 'this is a bug in mosaic; run again with -v and report the output',
      exitCode: ExitCode.failure,
      detail: err instanceof Error ? err.stack : undefined,
    };
  }
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
  let exitCode: number = ExitCode.failure;
  if (status === 400 || e.code === 'USAGE') exitCode = ExitCode.usage;
  else if (status === 401 || e.code === 'ADMIN_AUTH_REQUIRED') exitCode = ExitCode.auth;
  // A command that knows better (e.g. a pin mismatch is a refusal, not a usage error) says so.
  const own = (err as { exitCode?: unknown }).exitCode;
  if (typeof own === 'number') exitCode = own;
  const details = Array.isArray(e.details)
    ? (e.details as Array<{ path?: unknown; message?: unknown }>).map((d) => `  ${typeof d.path === 'string' && d.path !== '' ? d.path : '(body)'}: ${String(d.message)}`).join('\n')
    : undefined;
  return {
    code: e.code as string,
    message: `${String(e.message)}${details ? `\n${details}` : ''}`,
    remediation: typeof e.remediation === 'string' ? e.remediation : undefined,
    exitCode,
    detail: err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined,
  };
}

export function printError(out: Pick<OutputOptions, 'json' | 'verbose'>, err: CliError, stderrColor: boolean): void {
  if (out.json) {
    const error: Record<string, string> = { code: err.code, message: err.message };
    if (err.remediation !== undefined) error.remediation = err.remediation;
    process.stderr.write(`${JSON.stringify({ error })}\n`);
    return;
  }
  process.stderr.write(`${paint(stderrColor, 'red', 'error:')} ${shown(err.message)}\n`);
  if (err.remediation !== undefined) process.stderr.write(`${paint(stderrColor, 'dim', 'hint:')} ${shown(err.remediation)}\n`);
  if (out.verbose && err.detail !== undefined) process.stderr.write(`${paint(stderrColor, 'dim', 'detail:')} ${shown(err.detail)}\n`);
}

/**
 * An error's text as it may reach the terminal: a message, hint or cause may quote what a
 * gateway or peer sent (SECURITY.md case 35), so every control, bidi or zero-width character is
 * shown as `?` — line by line, so the lines of a multi-line message (field details, a stack) stay.
 */
function shown(text: string): string {
  return text
    .split('\n')
    .map((line) => displayed(line))
    .join('\n');
}

/** A usage error raised by a command (exit 2). */
export class UsageError extends Error {
  readonly code = 'USAGE';
  readonly status = 400;
  readonly remediation: string | undefined;
  constructor(message: string, remediation?: string) {
    super(message);
    this.remediation = remediation;
  }
}
