/**
 * The docs test's engine (packages/cli/src/docs-commands.test.ts and the runbook's acceptance
 * test): it reads the fenced shell blocks of a docs/*.md page, checks every `mosaic …` line in
 * them against the CLI's command tree, and runs the runnable ones, in page order, as real
 * commands — the built `mosaic` binary behind a `mosaic` shim on PATH, `bash` for the shell,
 * HOME and the XDG dirs in a temp dir — against the gateways the page itself starts.
 *
 * How a page is read (the annotation syntax is in docs/README.md, "How the docs are tested"):
 *  - blocks fenced as `sh`, `bash`, `shell` or `console` hold commands (in `console`, the
 *    lines after `$ `; the other lines are sample output and are not compared); other fences
 *    (`text`, `json`, none) are not read;
 *  - `<!-- docs-test: … -->` comments directly above a block (only blank lines or other such
 *    comments between) change how it runs: `skip — <reason>`, `gateway <name>`,
 *    `capture <name> /<regex>/`, `expect /<regex>/`, `exit <n>`, `stop <name>`, `before <shell>`;
 *  - `<name>` placeholders (lower case, digits, dashes) in a command stand for a value only
 *    known at run time; an earlier block's `capture` gives it.
 *
 * @example
 * const doc = parseDoc('docs/runbook.md', readFileSync('docs/runbook.md', 'utf8'));
 * expect(checkStatically(doc, await docProgram())).toEqual([]);
 * await runDoc(doc, { bin: BIN });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Command, Option } from 'commander';

/** One command of a block: its text (continuations and heredoc joined) and its line in the page. */
export interface DocCommand {
  readonly line: number;
  readonly text: string;
}

/** What the `<!-- docs-test: … -->` comments above a block asked for. */
export interface BlockAnnotations {
  skip: string | null;
  gateway: string | null;
  captures: Array<{ name: string; pattern: RegExp }>;
  expects: RegExp[];
  exit: number;
  stops: string[];
  before: string[];
}

export interface DocBlock {
  readonly file: string;
  /** The line of the opening fence (1-based). */
  readonly line: number;
  readonly lang: string;
  readonly commands: DocCommand[];
  readonly annotations: BlockAnnotations;
}

export interface ParsedDoc {
  readonly file: string;
  readonly blocks: DocBlock[];
  /** Problems of the page itself: a bad annotation, one that is not above a block. */
  readonly problems: string[];
}

const COMMAND_LANGS = new Set(['sh', 'bash', 'shell', 'console']);
const ANNOTATION = /^\s*<!--\s*docs-test:\s*(.*?)\s*-->\s*$/;
/** A placeholder: `<grant-id>`, `<enrollment-url>`. */
export const PLACEHOLDER = /<([a-z][a-z0-9]*(?:-[a-z0-9]+)*)>/g;

function emptyAnnotations(): BlockAnnotations {
  return { skip: null, gateway: null, captures: [], expects: [], exit: 0, stops: [], before: [] };
}

/** `/…/flags` → RegExp, or null. */
function regexOf(text: string): RegExp | null {
  const m = /^\/(.+)\/([imsu]*)$/.exec(text.trim());
  if (!m) return null;
  try {
    return new RegExp(m[1]!, m[2]);
  } catch {
    return null;
  }
}

/** Adds one annotation to `into`; returns a problem, or null. */
function annotate(into: BlockAnnotations, text: string): string | null {
  const [word = '', ...restWords] = text.split(/\s+/);
  const rest = text.slice(word.length).trim();
  switch (word) {
    case 'skip': {
      const reason = rest.replace(/^[—–:-]+\s*/, '');
      if (reason.length < 5) return 'skip needs a reason: <!-- docs-test: skip — needs Docker -->';
      into.skip = reason;
      return null;
    }
    case 'gateway':
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(rest)) return 'gateway needs a gateway name: <!-- docs-test: gateway home -->';
      into.gateway = rest;
      return null;
    case 'stop':
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(rest)) return 'stop needs a gateway name: <!-- docs-test: stop home -->';
      into.stops.push(rest);
      return null;
    case 'capture': {
      const name = restWords[0] ?? '';
      const pattern = regexOf(rest.slice(name.length));
      if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(name) || pattern === null) return 'capture needs a name and a /regex/: <!-- docs-test: capture grant-id /created grant ([0-9a-f-]+)/ -->';
      into.captures.push({ name, pattern });
      return null;
    }
    case 'expect': {
      const pattern = regexOf(rest);
      if (pattern === null) return 'expect needs a /regex/: <!-- docs-test: expect /federated:work/ -->';
      into.expects.push(pattern);
      return null;
    }
    case 'exit':
      if (!/^\d{1,3}$/.test(rest)) return 'exit needs a number: <!-- docs-test: exit 1 -->';
      into.exit = Number(rest);
      return null;
    case 'before':
      if (rest === '') return 'before needs a shell command: <!-- docs-test: before rm -rf ~/.local/share/mosaic/home -->';
      into.before.push(rest);
      return null;
    default:
      return `unknown docs-test annotation "${word}" (skip, gateway, capture, expect, exit, stop, before)`;
  }
}

/** The commands of a block's lines: `\` continuations and heredocs joined; in `console` only `$ ` lines. */
function commandsOf(lines: string[], firstLine: number, lang: string): DocCommand[] {
  const out: DocCommand[] = [];
  let i = 0;
  while (i < lines.length) {
    let raw = lines[i]!;
    const line = firstLine + i;
    i++;
    if (lang === 'console') {
      if (!raw.startsWith('$ ')) continue;
      raw = raw.slice(2);
    }
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    let text = raw;
    while (/\\\s*$/.test(text) && i < lines.length) {
      const next = lines[i++]!;
      text = `${text.replace(/\\\s*$/, '')}\n${lang === 'console' ? next.replace(/^> ?/, '') : next}`;
    }
    const heredoc = /<<-?\s*(['"]?)([A-Za-z_]\w*)\1/.exec(text);
    if (heredoc) {
      const end = heredoc[2]!;
      const body: string[] = [];
      while (i < lines.length) {
        const next = lines[i++]!;
        body.push(next);
        if (next.trim() === end) break;
      }
      text = `${text}\n${body.join('\n')}`;
    }
    out.push({ line, text });
  }
  return out;
}

/** The fenced blocks of a page, with their annotations. */
export function parseDoc(file: string, source: string): ParsedDoc {
  const lines = source.split('\n');
  const blocks: DocBlock[] = [];
  const problems: string[] = [];
  let pending = emptyAnnotations();
  let pendingAt: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const annotation = ANNOTATION.exec(text);
    if (annotation) {
      const problem = annotate(pending, annotation[1]!);
      if (problem !== null) problems.push(`${file}:${i + 1}: ${problem}`);
      pendingAt.push(i + 1);
      continue;
    }
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(text);
    if (fence) {
      const lang = fence[3]!.toLowerCase();
      const close = new RegExp(`^\\s*${fence[2]![0] === '`' ? '`' : '~'}{${fence[2]!.length},}\\s*$`);
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !close.test(lines[j]!); j++) body.push(lines[j]!.slice(Math.min(fence[1]!.length, /^\s*/.exec(lines[j]!)![0].length)));
      if (COMMAND_LANGS.has(lang)) {
        blocks.push({ file, line: i + 1, lang, commands: commandsOf(body, i + 2, lang), annotations: pending });
      } else if (pendingAt.length > 0) {
        problems.push(`${file}:${pendingAt[0]}: a docs-test annotation above a \`${lang || 'plain'}\` block, which is never run (only sh, bash, shell, console)`);
      }
      pending = emptyAnnotations();
      pendingAt = [];
      i = j;
      continue;
    }
    if (text.trim() !== '' && pendingAt.length > 0) {
      problems.push(`${file}:${pendingAt[0]}: a docs-test annotation must be directly above a code block (only blank lines between)`);
      pending = emptyAnnotations();
      pendingAt = [];
    }
  }
  if (pendingAt.length > 0) problems.push(`${file}:${pendingAt[0]}: a docs-test annotation after the last code block`);
  return { file, blocks, problems };
}

// ─── static check: every `mosaic …` names a real command and real flags ─────────────────

const OPERATOR = /^(>>|>&[\d-]+|<&[\d-]+|&>>|&>|>|<<<|<<-|<<|<|\|\||\|&|\||&&|&|;|\(|\))/;

/** Shell words and operators of a command line (quotes removed; `$(…)` kept as one word). */
export function shellWords(text: string): string[] {
  const out: string[] = [];
  let word = '';
  let inWord = false;
  const push = () => {
    if (inWord) out.push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      if (text[i + 1] === '\n') {
        i++;
        continue;
      }
      word += text[++i];
      inWord = true;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      word += text.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? text.length : end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        word += text[j];
      }
      i = j;
      inWord = true;
    } else if (c === '$' && text[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '(') depth++;
        else if (text[j] === ')' && --depth === 0) break;
      }
      word += text.slice(i, j + 1);
      i = j;
      inWord = true;
    } else if (c === '#' && !inWord) {
      const nl = text.indexOf('\n', i);
      if (nl < 0) break;
      i = nl - 1;
    } else if (/\s/.test(c)) {
      push();
      if (c === '\n') out.push(';');
    } else if ('|&;<>()'.includes(c)) {
      // a redirection's fd number (2>, 2>&1) belongs to the operator
      const fd = inWord && /^\d+$/.test(word) && (c === '>' || c === '<') ? word : '';
      if (fd === '') push();
      word = '';
      inWord = false;
      const op = OPERATOR.exec(text.slice(i))![0];
      i += op.length - 1;
      out.push(fd + op);
    } else {
      word += c;
      inWord = true;
    }
  }
  push();
  return out;
}

const SEPARATORS = new Set([';', '|', '||', '&&', '&', '|&', '(', ')']);


/** The argument lists of every `mosaic` (or `pnpm mosaic`) invocation in a command line. */
export function mosaicInvocations(text: string): string[][] {
  return invocations(text, 'mosaic');
}

/**
 * The argument lists of every invocation of `program` in a command line: after env
 * assignments and `sudo`/`env`/`exec`…, in pipes, lists and `$(…)`; redirections and heredoc
 * bodies left out. `pnpm mosaic …` counts as `mosaic …`.
 */
export function invocations(text: string, program: string): string[][] {
  // a heredoc's body is data, not commands
  const heredoc = /<<-?\s*(['"]?)[A-Za-z_]\w*\1[^\n]*/.exec(text);
  // a placeholder is one word (`<grant-id>` is no redirection)
  const words = shellWords((heredoc ? text.slice(0, heredoc.index + heredoc[0].length) : text).replace(PLACEHOLDER, '«$1»'));
  const out: string[][] = [];
  let simple: string[] = [];
  const flush = () => {
    let k = 0;
    while (k < simple.length && /^[A-Za-z_]\w*=/.test(simple[k]!)) k++;
    while (k < simple.length && ['sudo', 'env', 'exec', 'time', 'command', 'nohup'].includes(simple[k]!)) k++;
    while (k < simple.length && /^[A-Za-z_]\w*=/.test(simple[k]!)) k++;
    if (program === 'mosaic' && simple[k] === 'pnpm' && simple[k + 1] === 'mosaic') k++;
    if (simple[k] === program && !(program === 'pnpm' && simple[k + 1] === 'mosaic')) out.push(simple.slice(k + 1));
    simple = [];
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    // a command substitution holds commands of its own
    for (const m of w.matchAll(/\$\(((?:[^()]|\([^()]*\))*)\)/g)) out.push(...invocations(m[1]!, program));
    if (SEPARATORS.has(w)) flush();
    else if (/^\d*(>|>>|<|<<|<<<|&>|>&|<&)/.test(w)) {
      // a redirection: its target is the next word, unless it names an fd (2>&1)
      if (!/&[\d-]+$/.test(w)) i++;
    } else simple.push(w);
  }
  flush();
  return out;
}

function optionMatches(o: Option, flag: string): boolean {
  return o.long === flag || o.short === flag;
}

/** Why `mosaic <args>` is not a command line the CLI accepts (command path, flags, argument count), or null. */
export function checkInvocation(root: Command, args: string[]): string | null {
  let cmd = root;
  const path: string[] = ['mosaic'];
  const globals = root.options;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
      if (flag === '-h' || flag === '--help' || (flag === '--version' && cmd === root)) continue;
      const opt = cmd.options.find((o) => optionMatches(o, flag)) ?? globals.find((o) => optionMatches(o, flag));
      if (opt === undefined) return `\`${path.join(' ')}\` has no option ${flag}`;
      if ((opt.required || opt.optional) && eq < 0) {
        if (opt.required && i + 1 >= args.length) return `\`${path.join(' ')} ${flag}\` needs a value`;
        if (opt.required || (i + 1 < args.length && !args[i + 1]!.startsWith('-'))) i++;
      }
      continue;
    }
    if (positional.length === 0 && cmd.commands.length > 0) {
      const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
      if (sub !== undefined) {
        cmd = sub;
        path.push(sub.name());
        continue;
      }
      if (a === 'help') {
        path.push('help');
        return null;
      }
      if (cmd.registeredArguments.length === 0) return `\`${path.join(' ')}\` has no subcommand "${a}" (it has: ${cmd.commands.map((c) => c.name()).join(', ')})`;
    }
    positional.push(a);
  }
  const declared = cmd.registeredArguments;
  const variadic = declared.some((d) => d.variadic);
  if (!variadic && positional.length > declared.length) return `\`${path.join(' ')}\` takes ${declared.length} argument(s), given ${positional.length}: ${positional.join(' ')}`;
  const required = declared.filter((d) => d.required).length;
  if (positional.length < required && !args.some((a) => a === '-h' || a === '--help')) {
    return `\`${path.join(' ')}\` needs ${required} argument(s) (${declared.map((d) => d.name()).join(', ')}), given ${positional.length}`;
  }
  return null;
}

/** Every problem of a page found without running it: bad annotations, unknown commands or flags, placeholders no earlier block captures. */
export function checkStatically(doc: ParsedDoc, root: Command): string[] {
  const problems = [...doc.problems];
  const captured = new Set<string>();
  for (const block of doc.blocks) {
    for (const cmd of block.commands) {
      for (const args of mosaicInvocations(cmd.text)) {
        const problem = checkInvocation(root, args);
        if (problem !== null) problems.push(`${doc.file}:${cmd.line}: ${problem}\n    ${cmd.text}`);
      }
      if (block.annotations.skip === null) {
        for (const m of cmd.text.matchAll(PLACEHOLDER)) {
          if (!captured.has(m[1]!)) problems.push(`${doc.file}:${cmd.line}: placeholder <${m[1]}> is not captured by an earlier block (<!-- docs-test: capture ${m[1]} /regex/ -->), or mark the block skip\n    ${cmd.text}`);
        }
      }
    }
    if (block.annotations.skip === null) for (const c of block.annotations.captures) captured.add(c.name);
  }
  return problems;
}

// ─── running a page ──────────────────────────────────────────────────────────────────────

/** What one command did. */
export interface CommandRun {
  readonly file: string;
  readonly line: number;
  readonly command: string;
  readonly code: number | null;
  readonly output: string;
}

export interface RunDocResult {
  readonly runs: CommandRun[];
  readonly values: ReadonlyMap<string, string>;
}

export interface RunDocOptions {
  /** The built CLI (packages/cli/dist/bin.js). */
  bin: string;
  /** Per command (ms). */
  commandTimeoutMs?: number;
  /** Called before the page's gateways are stopped: for checks of the state the page left. */
  atEnd?: (world: DocWorld) => Promise<void> | void;
}

/** The temp world a page runs in. */
export interface DocWorld {
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  /** The data dir of a gateway the page started. */
  dataDir(name: string): string;
  /** `bash -c <command>` in the page's world, for checks after the page (`atEnd`). */
  sh(command: string, options?: { gateway?: string }): Promise<{ code: number | null; output: string }>;
}

/** Enrollment tokens never reach a failure message. */
export function redact(text: string): string {
  return text.replace(/\/enroll\/[A-Za-z0-9_-]{8,}/g, '/enroll/<redacted>');
}

/** `--name <n>` / `--data-dir <d>` of a `gateway start` line, and whether it names its ports. */
function startTarget(args: string[], world: { share: string; env: NodeJS.ProcessEnv }): { name: string; dataDir: string; ports: boolean } {
  let name = 'default';
  let dataDir: string | undefined;
  let ports = false;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split('=', 2) as [string, string | undefined];
    const value = inline ?? args[i + 1];
    if (flag === '--name' && value !== undefined) name = value;
    if (flag === '--data-dir' && value !== undefined) dataDir = value;
    if (flag === '--federation-port' || flag === '--admin-port') ports = true;
  }
  return { name, dataDir: dataDir ?? world.env.MOSAIC_DATA_DIR ?? join(world.share, 'mosaic', name), ports };
}

function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A child `bash -o pipefail -c`, its stdout and stderr interleaved. */
function bash(command: string, env: NodeJS.ProcessEnv, cwd: string): ChildProcess {
  return spawn('bash', ['-o', 'pipefail', '-c', command], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: false });
}

function collect(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[docs-test: no exit after ${timeoutMs} ms: killed]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

/** A failure: the page, its line, the command and what it printed. */
export class DocCommandError extends Error {}

function fail(file: string, line: number, command: string, why: string, output: string): never {
  throw new DocCommandError(`${file}:${line}: ${why}\n  $ ${redact(command).replace(/\n/g, '\n    ')}\n${redact(output).trimEnd().replace(/^/gm, '  │ ')}`);
}

/**
 * Runs the runnable blocks of a page in order, in a fresh temp world; throws a
 * DocCommandError at the first command that fails. Gateways the page starts run until its end.
 */
export async function runDoc(doc: ParsedDoc, options: RunDocOptions): Promise<RunDocResult> {
  const root = mkdtempSync(join(tmpdir(), `mosaic-docs-${basename(doc.file, '.md')}-`));
  const home = join(root, 'home');
  const share = join(home, '.local', 'share');
  const binDir = join(root, 'bin');
  for (const d of [home, share, binDir]) mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileSync(join(binDir, 'mosaic'), `#!/bin/sh\nexec ${shQuote(process.execPath)} ${shQuote(options.bin)} "$@"\n`);
  chmodSync(join(binDir, 'mosaic'), 0o755);
  const env: NodeJS.ProcessEnv = {};
  // only what a shell needs: nothing of the caller's gateway, store, Redis, keyring session or tracing
  for (const k of ['LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL', 'TERM']) if (process.env[k] !== undefined) env[k] = process.env[k];
  Object.assign(env, {
    HOME: home,
    XDG_DATA_HOME: share,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CACHE_HOME: join(home, '.cache'),
    PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    NO_COLOR: '1',
  });
  const timeoutMs = options.commandTimeoutMs ?? 30_000;
  const values = new Map<string, string>();
  const runs: CommandRun[] = [];
  const gateways = new Map<string, { child: ChildProcess; dataDir: string; exited: Promise<void>; output: () => string }>();
  const world: DocWorld = {
    home,
    env,
    dataDir: (name) => gateways.get(name)?.dataDir ?? join(share, 'mosaic', name),
    sh: (command, o = {}) => collect(bash(command, o.gateway === undefined ? env : { ...env, MOSAIC_DATA_DIR: world.dataDir(o.gateway) }, home), timeoutMs),
  };
  const stop = async (name: string) => {
    const gw = gateways.get(name);
    if (gw === undefined) return;
    gateways.delete(name);
    if (gw.child.exitCode === null && gw.child.signalCode === null) {
      gw.child.kill('SIGTERM');
      const killer = setTimeout(() => gw.child.kill('SIGKILL'), 10_000);
      await gw.exited;
      clearTimeout(killer);
    }
  };
  try {
    for (const block of doc.blocks) {
      const a = block.annotations;
      if (a.skip !== null) continue;
      for (const name of a.stops) {
        if (!gateways.has(name)) fail(doc.file, block.line, `(stop ${name})`, `docs-test: stop ${name}: no gateway "${name}" was started by this page`, '');
        await stop(name);
      }
      const blockEnv = a.gateway === null ? env : { ...env, MOSAIC_DATA_DIR: world.dataDir(a.gateway) };
      for (const before of a.before) {
        const r = await collect(bash(before, blockEnv, home), timeoutMs);
        if (r.code !== 0) fail(doc.file, block.line, before, `the hidden setup (docs-test: before) exited ${r.code}`, r.output);
      }
      let blockOutput = '';
      for (const cmd of block.commands) {
        const text = cmd.text.replace(PLACEHOLDER, (whole, name: string) => {
          const v = values.get(name);
          if (v === undefined) fail(doc.file, cmd.line, cmd.text, `placeholder ${whole} has no value: capture it in an earlier block`, '');
          // a plain word as it is (so a placeholder works inside quotes too); anything else quoted
          return /^[\w.:/@%+=,-]+$/.test(v) ? v : shQuote(v);
        });
        const invocations = mosaicInvocations(text);
        // `mosaic gateway start` alone on its line runs in the background until the page ends
        const start = invocations.length === 1 && invocations[0]![0] === 'gateway' && invocations[0]![1] === 'start' && !shellWords(text).some((w) => SEPARATORS.has(w) || OPERATOR.test(w));
        if (start) {
          const target = startTarget(invocations[0]!, { share, env: blockEnv });
          if (gateways.has(target.name)) fail(doc.file, cmd.line, cmd.text, `gateway "${target.name}" is already running from an earlier block`, '');
          // free ports: several pages (and other tests) run side by side
          const child = bash(`exec ${target.ports ? text : text.replace(/\bgateway\s+start\b/, '$& --federation-port 0 --admin-port 0')}`, blockEnv, home);
          let output = '';
          child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
          child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
          const exited = new Promise<void>((r) => child.once('close', () => r()));
          gateways.set(target.name, { child, dataDir: target.dataDir, exited, output: () => output });
          const ready = await new Promise<boolean>((resolvePromise) => {
            const timer = setTimeout(() => resolvePromise(false), timeoutMs);
            const poll = setInterval(() => {
              if (/ready in \d+ ms|"adminUrl"/.test(output) && existsSync(join(target.dataDir, 'gateway.json'))) done(true);
            }, 25);
            const done = (ok: boolean) => {
              clearTimeout(timer);
              clearInterval(poll);
              resolvePromise(ok);
            };
            void exited.then(() => done(false));
          });
          runs.push({ file: doc.file, line: cmd.line, command: cmd.text, code: ready ? 0 : child.exitCode, output });
          if (!ready) fail(doc.file, cmd.line, cmd.text, `the gateway did not become ready (exit ${child.exitCode ?? 'none'})`, output);
          blockOutput += output;
          continue;
        }
        const r = await collect(bash(text, blockEnv, home), timeoutMs);
        runs.push({ file: doc.file, line: cmd.line, command: cmd.text, ...r });
        // MOSAIC_DOCS_TRACE=1: every command and its output on stderr, to read what a page does
        if (process.env.MOSAIC_DOCS_TRACE === '1') process.stderr.write(`${doc.file}:${cmd.line} (exit ${r.code})\n  $ ${redact(cmd.text)}\n${redact(r.output).replace(/^/gm, '  │ ')}\n`);
        if (r.code !== a.exit) fail(doc.file, cmd.line, cmd.text, `exited ${r.code}, the page expects ${a.exit}${a.exit === 0 ? '' : ' (docs-test: exit)'}`, r.output);
        blockOutput += r.output;
      }
      for (const pattern of a.expects) {
        if (!pattern.test(blockOutput)) fail(doc.file, block.line, block.commands.map((c) => c.text).join('\n'), `the output does not match ${String(pattern)} (docs-test: expect)`, blockOutput);
      }
      for (const c of a.captures) {
        const m = c.pattern.exec(blockOutput);
        if (m === null) fail(doc.file, block.line, block.commands.map((x) => x.text).join('\n'), `capture ${c.name}: nothing matches ${String(c.pattern)}`, blockOutput);
        values.set(c.name, m[1] ?? m[0]);
      }
    }
    await options.atEnd?.(world);
    return { runs, values };
  } catch (err) {
    // a gateway of the page that died explains most later failures: say so, with its output
    if (err instanceof DocCommandError) {
      for (const [name, gw] of gateways) {
        if (gw.child.exitCode !== null || gw.child.signalCode !== null) {
          err.message += `\n(gateway "${name}" of this page had exited: ${gw.child.exitCode ?? gw.child.signalCode})\n${redact(gw.output()).trimEnd().replace(/^/gm, '  │ ')}`;
        }
      }
    }
    throw err;
  } finally {
    await Promise.all([...gateways.keys()].map(stop));
    rmSync(root, { recursive: true, force: true });
  }
}
