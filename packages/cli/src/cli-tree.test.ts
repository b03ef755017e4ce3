// The command tree as a whole: an example in every --help, `mosaic help` and its topics,
// shell completion (run for real in bash, and in zsh/fish where installed), docs/cli.md kept in
// step with the binary, and the start-up import graph of `grant list`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { commandTree } from './commands/completion.js';
import { docProgram, helpText, renderCliDoc } from './docs.js';
import { mosaic, testHome } from './test-support/gateways.js';

const here = dirname(fileURLToPath(import.meta.url));
const home = testHome('mosaic-cli-tree-');
afterAll(() => home.cleanup());
const run = (args: string[]) => mosaic(home.env, args);
const has = (shell: string) => spawnSync(shell, ['-c', 'exit 0']).status === 0;

describe('help', () => {
  it('every command, noun or verb, has an example in its --help', async () => {
    const nodes = commandTree(await docProgram());
    expect(nodes.length).toBeGreaterThan(30);
    const missing = nodes.filter((n) => !/^Examples?:$/m.test(helpText(n.command))).map((n) => ['mosaic', ...n.path].join(' '));
    expect(missing).toEqual([]);
  });

  it('mosaic help exit-codes lists 0/1/2/4/130; help <command path> shows that command; an unknown one is exit 2', () => {
    const codes = run(['help', 'exit-codes']);
    expect(codes.code).toBe(0);
    for (const line of [/^ {2}0 {4}success/m, /^ {2}1 {4}failure/m, /^ {2}2 {4}usage or validation/m, /^ {2}4 {4}admin authentication failed/m, /^ {2}130 {2}cancelled with Ctrl-C$/m, /gateway doctor +0 no check red/]) {
      expect(codes.stdout).toMatch(line);
    }
    const edit = run(['help', 'federation', 'grant', 'edit']);
    expect(edit.code).toBe(0);
    expect(edit.stdout).toMatch(/^Usage: mosaic federation grant edit \[options\] <grant-id>$/m);
    expect(run(['help', 'federation', 'nope']).code).toBe(2);
    expect(run(['federation', 'grant', 'list', '--help']).stdout).toMatch(/^Examples:$/m);
  });

  it('unknown commands and options of the new commands are usage errors (exit 2)', () => {
    expect(run(['federation', 'grant', 'frobnicate']).code).toBe(2);
    expect(run(['federation', 'grant', 'list', '--frobnicate']).code).toBe(2);
    expect(run(['profile', 'frobnicate']).code).toBe(2);
    expect(run(['gateway', 'doctor', 'extra']).code).toBe(2);
  });
});

describe('mosaic completion', () => {
  it('bash: completes commands, options and fixed option values (run in bash)', () => {
    const script = run(['completion', 'bash']);
    expect(script.code).toBe(0);
    const file = join(home.dir, 'mosaic.bash');
    writeFileSync(file, script.stdout);
    const complete = (words: string[]) => {
      const r = spawnSync('bash', ['-c', `source "$1"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _mosaic; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', file], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return r.stdout.trim().split('\n');
    };
    expect(complete(['mosaic', ''])).toEqual(['gateway', 'federation', 'tui', 'demo', 'profile', 'completion', 'help']);
    expect(complete(['mosaic', 'federation', 'grant', ''])).toEqual(['create', 'list', 'show', 'edit', 'revoke', 'token', 'explain']);
    expect(complete(['mosaic', '--data-dir', '/x', 'federation', 'grant', 'l'])).toEqual(['list']);
    expect(complete(['mosaic', 'federation', 'grant', 'list', '--st'])).toEqual(['--status']);
    expect(complete(['mosaic', 'federation', 'grant', 'list', '--status', ''])).toEqual(['pending', 'active', 'revoked', 'expired']);
    expect(complete(['mosaic', 'gateway', 'd'])).toEqual(['doctor']);
  });

  it('zsh and fish scripts are valid, and complete the same tree', () => {
    const zsh = run(['completion', 'zsh']);
    const fish = run(['completion', 'fish']);
    expect(zsh.code).toBe(0);
    expect(fish.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef mosaic$/m);
    expect(zsh.stdout).toContain("'federation grant') echo 'create list show edit revoke token explain' ;;");
    expect(fish.stdout).toContain("complete -c mosaic -n '__mosaic_at \\'mosaic federation grant list\\'' -l status -x -a 'pending active revoked expired'");
    // a workstation without zsh or fish checks the scripts' text only; CI (.ci/run installs both) runs them
    if (process.env.CI === 'true') expect([has('zsh'), has('fish')], 'zsh and fish must be installed under CI=true').toEqual([true, true]);
    if (has('zsh')) {
      const file = join(home.dir, '_mosaic');
      writeFileSync(file, zsh.stdout);
      expect(spawnSync('zsh', ['-n', file]).status).toBe(0);
      const r = spawnSync('zsh', ['-c', `compdef() {}; compadd() { shift; print -r -- "$@" }; source "$1"; words=(mosaic federation grant list --status ''); CURRENT=6; _mosaic`, 'zsh', file], { encoding: 'utf8' });
      expect(r.stdout.trim()).toBe('pending active revoked expired');
    }
    if (has('fish')) {
      const file = join(home.dir, 'mosaic.fish');
      writeFileSync(file, fish.stdout);
      expect(spawnSync('fish', ['-n', file]).status).toBe(0);
      const r = spawnSync('fish', ['-c', `source ${file}; complete -C 'mosaic federation grant '`], { encoding: 'utf8' });
      expect(r.stdout.split('\n').map((l) => l.split('\t')[0]).filter(Boolean).sort()).toEqual(['create', 'edit', 'explain', 'list', 'revoke', 'show', 'token']);
    }
    expect(run(['completion', 'powershell']).code).toBe(2);
  });
});

describe('docs/cli.md', () => {
  it('is exactly what the command tree renders (regenerate with `pnpm docs:cli`)', async () => {
    const page = readFileSync(resolve(here, '../../../docs/cli.md'), 'utf8');
    expect(page).toBe(renderCliDoc(await docProgram()));
  });
});

// The CLI's cold start depends on what `bin.js` reaches before the command runs: walk the
// import graph of the built files as Node loads them — static imports everywhere, plus the
// lazy imports `grant list` takes (bin → main, federation → grant → list) — and list every
// package reached. A test of the same graph through a real run is in federation-grant.test.ts.
describe('start-up import graph of `mosaic federation grant list`', () => {
  const dist = resolve(here, '../dist');
  const HEAVY = ['zod', '@peculiar/x509', 'reflect-metadata', 'undici', 'ink', 'react', '@clack/prompts', 'conf', '@napi-rs/keyring', 'pino', '@mosaic/gateway-server'];

  function importGraph(entries: string[], followDynamic: (from: string, spec: string) => boolean) {
    const files = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (files.has(file)) return;
      files.add(file);
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2023, true);
      const specs: Array<{ spec: string; dynamic: boolean }> = [];
      const walk = (node: ts.Node) => {
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
          specs.push({ spec: node.moduleSpecifier.text, dynamic: false });
        } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
          specs.push({ spec: node.arguments[0].text, dynamic: true });
        }
        ts.forEachChild(node, walk);
      };
      walk(source);
      for (const { spec, dynamic } of specs) {
        if (dynamic && !followDynamic(file, spec)) continue;
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    };
    entries.forEach(visit);
    return { files, packages };
  }

  it('reaches commander, the admin-client subpath and node: modules only', () => {
    if (!existsSync(join(dist, 'bin.js'))) throw new Error('packages/cli/dist is missing: run `pnpm build` first');
    const path = new Set(['./main.js', './grant/index.js', './list.js']);
    const { files, packages } = importGraph([join(dist, 'bin.js')], (from, spec) => path.has(spec) && !from.endsWith('/lazy.js'));
    const rel = [...files].map((f) => f.slice(dist.length + 1));
    expect(rel).toEqual(expect.arrayContaining(['bin.js', 'main.js', 'commands/federation/index.js', 'commands/federation/grant/index.js', 'commands/federation/grant/list.js']));
    expect(rel.filter((f) => /grant\/(edit|create)|peer\/|query\/|profile\/|audit\//.test(f))).toEqual([]);
    for (const heavy of HEAVY) expect([...packages], `grant list reaches ${heavy}`).not.toContain(heavy);
    expect([...packages].filter((p) => !p.startsWith('node:')).sort()).toEqual(['@mosaic/federation-core', 'commander']);
    // and of federation-core, only the light subpath
    const core = [...files].flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/from ['"](@mosaic\/federation-core[^'"]*)['"]/g)].map((m) => m[1]));
    expect(new Set(core)).toEqual(new Set(['@mosaic/federation-core/admin-client']));
  });

  it('the walk does see heavy packages where they are (the check can fail)', () => {
    const { packages } = importGraph([join(dist, 'commands/federation/grant/edit.js')], () => true);
    expect([...packages]).toContain('@mosaic/federation-core');
  });
});
