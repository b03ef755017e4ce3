/**
 * A real terminal for the end-to-end test: a tmux session on its own server socket (a
 * person's tmux is never touched) running the built `mosaic-tui`, driven with `send-keys`
 * and read with `capture-pane`. tmux is a system package (`.ci/run` installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TUI_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bin.js');

export function tmuxAvailable(): boolean {
  return spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
}

export interface Terminal {
  type(text: string): void;
  press(...keys: string[]): void;
  screen(): string;
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  exited(ms?: number): Promise<number>;
  close(): void;
}

let sessions = 0;

export function openTerminal(dir: string, env: NodeJS.ProcessEnv, args: string[], size = { columns: 100, rows: 30 }): Terminal {
  if (!existsSync(TUI_BIN)) throw new Error(`${TUI_BIN} is missing: run \`pnpm build\` first`);
  const id = `mosaic-tui-test-${process.pid}-${++sessions}`;
  const script = join(dir, `${id}.sh`);
  const exitFile = join(dir, `${id}.exit`);
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const exports = Object.entries(env)
    .filter(([k, v]) => v !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !['NO_COLOR', 'CI', 'TMUX', 'TMUX_PANE', 'FORCE_COLOR'].includes(k))
    .map(([k, v]) => `export ${k}=${quote(v!)}`)
    .join('\n');
  writeFileSync(
    script,
    `#!/bin/sh\n${exports}\nexport TERM=xterm-256color\nunset NO_COLOR CI\n${quote(process.execPath)} ${quote(TUI_BIN)} ${args.map(quote).join(' ')}\necho $? > ${quote(exitFile)}\nexec sleep 600\n`,
    { mode: 0o700 },
  );
  const tmux = (...a: string[]) => execFileSync('tmux', ['-L', id, ...a], { encoding: 'utf8' });
  tmux('-f', '/dev/null', 'new-session', '-d', '-s', id, '-x', String(size.columns), '-y', String(size.rows), script);
  const term: Terminal = {
    type: (text) => void tmux('send-keys', '-t', id, '-l', text),
    press: (...keys) => void tmux('send-keys', '-t', id, ...keys),
    screen: () => tmux('capture-pane', '-p', '-t', id),
    async waitFor(pattern, ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        const screen = term.screen();
        if (typeof pattern === 'string' ? screen.includes(pattern) : pattern.test(screen)) return screen;
        if (Date.now() > end) throw new Error(`the terminal never showed ${String(pattern)}; it shows:\n${screen}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async exited(ms = 10_000) {
      const end = Date.now() + ms;
      for (;;) {
        const text = existsSync(exitFile) ? readFileSync(exitFile, 'utf8').trim() : '';
        if (text !== '') return Number(text);
        if (Date.now() > end) throw new Error(`the TUI did not end; the terminal shows:\n${term.screen()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close() {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    },
  };
  return term;
}
