/**
 * A one-line spinner in the look of @clack/prompts, on stderr. Not clack's own: while it spins,
 * clack's puts the terminal in raw mode and answers Ctrl-C with `process.exit(0)` — exit 0, and
 * no chance to undo an enrollment the gateway may already have finished. Here the terminal stays
 * in cooked mode, so Ctrl-C is a SIGINT the command handles (exit 130, nothing left stored).
 * Off a TTY it draws nothing until its final line (clig.dev: no spinners in a pipe).
 */
import { paint } from '../output.js';

const FRAMES = ['◒', '◐', '◓', '◑'];

export interface Spinner {
  /** Change the text while spinning. */
  message(text: string): void;
  /** Stop with a done line (`◇  text`). */
  done(text: string): void;
  /** Stop with a failure line (`▲  text`). */
  fail(text: string): void;
  /** Stop with a cancelled line (`■  text`). */
  cancel(text: string): void;
}

export interface SpinnerOptions {
  stream?: NodeJS.WriteStream;
  color: boolean;
  /** Draw the `│` guide line above, as clack's prompts do. */
  guide?: boolean;
}

/** Start spinning with `text`. */
export function startSpinner(text: string, options: SpinnerOptions): Spinner {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const { color } = options;
  let current = text;
  let frame = 0;
  let stopped = false;
  if (tty && options.guide !== false) stream.write(`${paint(color, 'dim', '│')}\n`);
  const draw = () => {
    if (!tty) return;
    const width = Math.max(20, (stream.columns ?? 80) - 4);
    const shown = current.length > width ? `${current.slice(0, width - 1)}…` : current;
    stream.write(`\r\u001b[2K${paint(color, 'magenta', FRAMES[frame++ % FRAMES.length]!)}  ${shown}`);
  };
  if (tty) stream.write('\u001b[?25l');
  draw();
  const timer = tty ? setInterval(draw, 80) : undefined;
  const stop = (symbol: string, line: string) => {
    if (stopped) return;
    stopped = true;
    if (timer !== undefined) clearInterval(timer);
    stream.write(`${tty ? '\r\u001b[2K' : ''}${symbol}  ${line}\n${tty ? '\u001b[?25h' : ''}`);
  };
  return {
    message(next) {
      current = next;
      draw();
    },
    done: (line) => stop(paint(color, 'green', '◇'), line),
    fail: (line) => stop(paint(color, 'red', '▲'), line),
    cancel: (line) => stop(paint(color, 'red', '■'), line),
  };
}
