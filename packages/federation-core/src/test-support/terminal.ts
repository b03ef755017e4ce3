/**
 * A real terminal for interactive tests (the CLI's wizard and editor flows, the TUI): a tmux
 * session on its own server socket (a person's tmux is never touched) running a Node script,
 * driven with `send-keys` and read with `capture-pane` — what a person at the terminal types
 * and sees. No native pty module: tmux is a system package (`.ci/run` installs it).
 * Test support only (source, not built).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Whether tmux can be run here. */
export function tmuxAvailable(): boolean {
  return spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
}

export interface Terminal {
  /** Type keys: text literally, or tmux key names (`Enter`, `C-c`, `Escape`). */
  type(text: string): void;
  press(...keys: string[]): void;
  /** What the screen shows now (no colours; with `escapes`, the colour and attribute escapes too). */
  screen(options?: { escapes?: boolean }): string;
  /** The terminal's modes now: in the alternate screen, cursor visible (tmux's own view of the pane). */
  modes(): { alternateScreen: boolean; cursorVisible: boolean };
  /** Resize the terminal (the program gets SIGWINCH). */
  resize(columns: number, rows: number): void;
  /** Wait until the screen matches; throws with the screen when it does not in time. */
  waitFor(pattern: RegExp | string, ms?: number): Promise<string>;
  /** The command's exit code once it has ended, or `null` while it runs. */
  exitCode(): number | null;
  /** Wait for the command to end; its exit code. */
  exited(ms?: number): Promise<number>;
  close(): void;
}

let sessions = 0;

/**
 * Run `node <script> <args>` in a new tmux session of `columns`×`rows` with `env` (NO_COLOR
 * and CI removed: a person's terminal; `noColor` sets NO_COLOR=1). The exit code is written to
 * a file when it ends; `dir` holds the session's script and that file.
 */
export function openTerminal(
  script: string,
  dir: string,
  env: NodeJS.ProcessEnv,
  args: string[],
  size = { columns: 100, rows: 30 },
  options: { noColor?: boolean } = {},
): Terminal {
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`pnpm build\` first`);
  const id = `mosaic-test-${process.pid}-${++sessions}`;
  const launcher = join(dir, `${id}.sh`);
  const exitFile = join(dir, `${id}.exit`);
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const exports = Object.entries(env)
    .filter(([k, v]) => v !== undefined && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !['NO_COLOR', 'CI', 'TMUX', 'TMUX_PANE', 'FORCE_COLOR'].includes(k))
    .map(([k, v]) => `export ${k}=${quote(v!)}`)
    .join('\n');
  writeFileSync(
    launcher,
    `#!/bin/sh\n${exports}\nexport TERM=xterm-256color\nunset NO_COLOR CI\n${options.noColor ? 'export NO_COLOR=1\n' : ''}${quote(process.execPath)} ${quote(script)} ${args.map(quote).join(' ')}\necho $? > ${quote(exitFile)}\nexec sleep 600\n`,
    { mode: 0o700 },
  );
  const tmux = (...a: string[]) => execFileSync('tmux', ['-L', id, ...a], { encoding: 'utf8' });
  tmux('-f', '/dev/null', 'new-session', '-d', '-s', id, '-x', String(size.columns), '-y', String(size.rows), launcher);
  const term: Terminal = {
    type(text) {
      tmux('send-keys', '-t', id, '-l', text);
    },
    press(...keys) {
      tmux('send-keys', '-t', id, ...keys);
    },
    screen(screenOptions = {}) {
      return tmux('capture-pane', '-p', ...(screenOptions.escapes ? ['-e'] : []), '-t', id);
    },
    modes() {
      const [alternate, cursor] = tmux('display-message', '-p', '-t', id, '#{alternate_on} #{cursor_flag}').trim().split(' ');
      return { alternateScreen: alternate === '1', cursorVisible: cursor === '1' };
    },
    resize(columns, rows) {
      tmux('resize-window', '-t', id, '-x', String(columns), '-y', String(rows));
    },
    async waitFor(pattern, ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        const screen = term.screen();
        if (typeof pattern === 'string' ? screen.includes(pattern) : pattern.test(screen)) return screen;
        if (Date.now() > end) throw new Error(`the terminal never showed ${String(pattern)}; it shows:\n${screen}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exitCode() {
      if (!existsSync(exitFile)) return null;
      const text = readFileSync(exitFile, 'utf8').trim();
      return text === '' ? null : Number(text);
    },
    async exited(ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        const code = term.exitCode();
        if (code !== null) return code;
        if (Date.now() > end) throw new Error(`the command did not end; the terminal shows:\n${term.screen()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close() {
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
      // tmux may leave its socket file behind
      rmSync(join(process.env.TMUX_TMPDIR ?? '/tmp', `tmux-${process.getuid?.() ?? 0}`, id), { force: true });
    },
  };
  return term;
}
