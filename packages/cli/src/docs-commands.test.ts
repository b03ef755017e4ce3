/**
 * Every command in docs/*.md is run, so none goes stale.
 *
 * How the docs are tested (also in docs/README.md):
 *  - Every page of docs/ is found by itself (a new page is tested from the moment it exists).
 *  - Blocks fenced as `sh`, `bash`, `shell` or `console` (`$ ` lines) are commands. Each page
 *    runs in a fresh temp world: HOME and the XDG dirs in a temp dir, a `mosaic` on PATH that
 *    is the built CLI (packages/cli/dist/bin.js: `pnpm build` after changing the CLI), `bash`
 *    for each command line, its cwd HOME; blocks run in page order, and a command must exit 0.
 *  - `mosaic gateway start …` alone on a line runs in the background until the page ends (the
 *    test adds `--federation-port 0 --admin-port 0` unless the line names ports) and the next
 *    line waits until it is ready. With one gateway running, `mosaic` finds it by itself;
 *    with several, say which one a block talks to.
 *  - Annotations are HTML comments directly above a block (invisible on the rendered page):
 *      <!-- docs-test: skip — needs Docker -->        not run (a reason is required); its
 *                                                     `mosaic` lines are still checked statically
 *      <!-- docs-test: gateway home -->               run with MOSAIC_DATA_DIR = home's data dir
 *      <!-- docs-test: capture grant-id /created grant ([0-9a-f-]{36})/ -->
 *                                                     group 1 of the block's output becomes <grant-id>
 *      <!-- docs-test: expect /federated:work/ -->    the block's output must match
 *      <!-- docs-test: exit 1 -->                     each command of the block must exit 1
 *      <!-- docs-test: stop home -->                  stop the page's gateway "home" first
 *      <!-- docs-test: before rm -rf ~/x -->          a hidden setup command run first
 *  - Placeholders: `<grant-id>`, `<enrollment-url>` (lower case words with dashes, in angle
 *    brackets) stand for a value printed by an earlier block; a `capture` gives it. People read
 *    them as "put yours here".
 *  - Statically, for every block (skipped ones too): each `mosaic …` must name an existing
 *    command path, existing options and a valid number of arguments (checked against the CLI's
 *    command tree, as docs/cli.md is made); every placeholder of a runnable block must be
 *    captured earlier on its page; every `pnpm <name>` must be a root package.json script. The
 *    `mosaic` examples in the commands' own --help are checked the same way.
 *  - A failure names the page, the line, the command and its output (enrollment tokens redacted).
 *  - docs/runbook.md runs in the acceptance suite (acceptance/m7-runbook.test.ts, M7.8); here it
 *    is checked statically only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { commandTree } from './commands/completion.js';
import { docProgram, helpText } from './docs.js';
import { BIN } from './test-support/gateways.js';
import { checkInvocation, checkStatically, DocCommandError, invocations, mosaicInvocations, parseDoc, runDoc, type ParsedDoc } from './test-support/docs-runner.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DOCS = join(ROOT, 'docs');

/** Pages whose runnable blocks run in another test (here they are checked statically). */
const RUN_ELSEWHERE = new Map([['runbook.md', 'packages/cli/src/acceptance/m7-runbook.test.ts']]);

const pages = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .sort();
const parsed = new Map<string, ParsedDoc>(pages.map((p) => [p, parseDoc(`docs/${p}`, readFileSync(join(DOCS, p), 'utf8'))]));
const runnable = (doc: ParsedDoc) => doc.blocks.some((b) => b.annotations.skip === null && b.commands.length > 0);

describe('the docs checker itself', () => {
  let root: Command;
  beforeAll(async () => {
    root = await docProgram();
  });

  it('finds the mosaic invocations of a shell line: env prefixes, pipes, &&, redirections, comments, pnpm mosaic', () => {
    expect(mosaicInvocations('FOO=1 mosaic gateway doctor --strict --json | jq .checks # all of them')).toEqual([['gateway', 'doctor', '--strict', '--json']]);
    expect(mosaicInvocations('mosaic a b > ci.token 2>&1 && chmod 600 ci.token; pnpm mosaic c "d e"')).toEqual([['a', 'b'], ['c', 'd e']]);
    expect(mosaicInvocations("cat > s.json <<'EOF'\nmosaic not a command\nEOF")).toEqual([]);
    expect(invocations('pnpm install && pnpm demo --no-tui; pnpm mosaic --version', 'pnpm')).toEqual([['install'], ['demo', '--no-tui']]);
    expect(mosaicInvocations('TOKEN="$(mosaic gateway admin-token create ci)" curl -H "x: $TOKEN" http://h')).toEqual([['gateway', 'admin-token', 'create', 'ci']]);
    expect(mosaicInvocations('mosaic federation grant token <grant-id> --reenroll')).toEqual([['federation', 'grant', 'token', '«grant-id»', '--reenroll']]);
  });

  it('refuses an unknown command, an unknown option, a missing value and a wrong argument count — and accepts a real line', () => {
    expect(checkInvocation(root, ['federation', 'grant', 'token', '6b1f', '--reenroll', '--ttl', '5m', '--json'])).toBeNull();
    expect(checkInvocation(root, ['federation', 'grant', 'tokens', '6b1f'])).toMatch(/no subcommand "tokens"/);
    expect(checkInvocation(root, ['federation', 'grant', 'token', '6b1f', '--re-enroll'])).toMatch(/has no option --re-enroll/);
    expect(checkInvocation(root, ['federation', 'grant', 'create', '--user'])).toMatch(/needs a value/);
    expect(checkInvocation(root, ['federation', 'grant', 'token'])).toMatch(/needs 1 argument/);
    expect(checkInvocation(root, ['federation', 'peer', 'show', 'work', 'home'])).toMatch(/takes 1 argument/);
  });

  it('reports a bad annotation, an annotation not above a block, and a placeholder nobody captured, with the page and line', () => {
    const doc = parseDoc('docs/x.md', ['<!-- docs-test: skip -->', '```sh', 'true', '```', '<!-- docs-test: gateway home -->', 'text', '```sh', 'mosaic federation grant show <grant-id>', '```'].join('\n'));
    const problems = checkStatically(doc, root);
    expect(problems).toContainEqual(expect.stringMatching(/^docs\/x\.md:1: skip needs a reason/));
    expect(problems).toContainEqual(expect.stringMatching(/^docs\/x\.md:5: a docs-test annotation must be directly above a code block/));
    expect(problems).toContainEqual(expect.stringMatching(/^docs\/x\.md:8: placeholder <grant-id> is not captured/));
  });

  it('runs a page: captures feed placeholders, expect and exit are enforced, and a failure names the page, the line and the output', async () => {
    const ok = parseDoc('docs/ok.md', ['<!-- docs-test: capture word /say (\\w+)/ -->', '```sh', 'echo say hello', '```', '<!-- docs-test: expect /^hello$/m -->', '<!-- docs-test: exit 3 -->', '```console', '$ echo <word>; exit 3', 'sample output', '```'].join('\n'));
    const result = await runDoc(ok, { bin: BIN });
    expect(result.values.get('word')).toBe('hello');
    expect(result.runs.map((r) => r.code)).toEqual([0, 3]);
    const bad = parseDoc('docs/bad.md', ['```sh', 'true', 'echo "went wrong" >&2; false', '```'].join('\n'));
    const error = await runDoc(bad, { bin: BIN }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DocCommandError);
    expect((error as Error).message).toMatch(/^docs\/bad\.md:3: exited 1, the page expects 0\n[\s\S]*went wrong/);
  });
});

describe('every command in docs/*.md', () => {
  let root: Command;
  beforeAll(async () => {
    root = await docProgram();
  });

  it('finds every page of docs/ by itself (the runbook and troubleshooting among them)', () => {
    expect(pages).toEqual(expect.arrayContaining(['setup.md', 'runbook.md', 'troubleshooting.md']));
  });

  for (const page of pages) {
    it(`docs/${page}: every mosaic line names a real command, real options and arguments; annotations and placeholders are sound`, () => {
      expect(checkStatically(parsed.get(page)!, root)).toEqual([]);
    });
  }

  for (const page of pages.filter((p) => runnable(parsed.get(p)!) && !RUN_ELSEWHERE.has(p))) {
    it(`docs/${page}: its runnable blocks run, in order, against the gateways the page starts`, async () => {
      if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm build\` first`);
      await runDoc(parsed.get(page)!, { bin: BIN });
    }, 120_000);
  }

  it("every `mosaic` example in the commands' --help (docs/cli.md) names a real command, real options and arguments", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const node of commandTree(root)) {
      const lines = helpText(node.command).split('\n');
      for (let i = 0; i < lines.length; i++) {
        let line = lines[i]!;
        if (!/^\s+\S/.test(line) || !/(^\s+|\| |&& |\S+=\S+ )mosaic /.test(line)) continue;
        while (/\\\s*$/.test(line) && i + 1 < lines.length) line = `${line.replace(/\\\s*$/, ' ')}${lines[++i]}`;
        for (const args of mosaicInvocations(line)) {
          checked++;
          const problem = checkInvocation(root, args);
          if (problem !== null) problems.push(`mosaic ${node.path.join(' ')} --help: ${problem}\n    ${line.trim()}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('every `pnpm <script>` in docs/*.md names a script of the root package.json (or a pnpm command)', () => {
    const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);
    const builtins = ['install', 'i', 'add', 'exec', 'dlx', 'run', 'test', 'vitest', 'tsx', 'eslint', 'tsc'];
    const problems: string[] = [];
    for (const doc of parsed.values()) {
      for (const block of doc.blocks) {
        for (const cmd of block.commands) {
          for (const args of invocations(cmd.text, 'pnpm')) {
            const rest = args.filter((a, i) => !a.startsWith('-') && !(i > 0 && /^--?(filter|F|C|dir)$/.test(args[i - 1]!)));
            const name = rest[0] === 'run' ? rest[1] : rest[0];
            if (name !== undefined && !scripts.includes(name) && !builtins.includes(name)) problems.push(`${doc.file}:${cmd.line}: pnpm ${name}: no such script in package.json\n    ${cmd.text}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('docs/troubleshooting.md has a section for every doctor check id of the gateway (found in its sources)', () => {
    const ids = new Set<string>();
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? (e.name === 'test-support' ? [] : walk(join(dir, e.name))) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
      );
    for (const file of walk(join(ROOT, 'packages/gateway-server/src'))) {
      const source = readFileSync(file, 'utf8');
      // `add('storage.reachable', …)` in the doctor route, and `['peers.renewal', 'green' | cond ? 'red' …]` from the check helpers
      for (const re of [/\badd\(\s*'([a-z][a-z_]*\.[a-z][a-z_]*)'/g, /\[\s*'([a-z][a-z_]*\.[a-z][a-z_]*)',\s*(?:'(?:green|yellow|red)'|[^,\n]*\?\s*'(?:green|yellow|red)')/g]) {
        for (const m of source.matchAll(re)) ids.add(m[1]!);
      }
    }
    expect([...ids]).toEqual(expect.arrayContaining(['storage.reachable', 'ca.root_expiry', 'tls.server_cert_expiry', 'peers.clock_skew', 'peers.renewal', 'redis.reachable']));
    const page = readFileSync(join(DOCS, 'troubleshooting.md'), 'utf8');
    expect([...ids].filter((id) => !page.includes(`### \`${id}\``))).toEqual([]);
  });

  it('the pages run elsewhere exist and are run there', () => {
    for (const [page, test] of RUN_ELSEWHERE) {
      expect(pages, page).toContain(page);
      expect(readFileSync(join(ROOT, test), 'utf8'), test).toContain(`docs/${page}`);
    }
  });
});
