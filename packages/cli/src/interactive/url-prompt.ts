/**
 * The wizard's first question, in the look of @clack/prompts: paste the enrollment URL. The
 * URL carries a one-time token, so the token is never drawn — not while typing (its characters
 * show as `•`), not once accepted (`…/enroll/<redacted>`), not in the scrollback. clack's own
 * `text` echoes what is typed and its `password` hides the host too; hence this small prompt.
 */
import { emitKeypressEvents } from 'node:readline';
import { paint } from '../output.js';

/** What a prompt returns when the person pressed Ctrl-C or Escape. */
export const CANCELLED: unique symbol = Symbol('cancelled');

export interface HiddenPromptOptions {
  message: string;
  /** Dim text after the message. */
  hint?: string;
  /** A problem to show (the prompt stays), or `undefined` to accept. */
  validate: (value: string) => string | undefined;
  /** The value as it may be drawn while typing. */
  mask: (value: string) => string;
  /** The accepted value as it may stay on screen. */
  shown: (value: string) => string;
  color: boolean;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
}

// eslint-disable-next-line no-control-regex -- matched to measure what a line shows
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
// eslint-disable-next-line no-control-regex -- typed control characters are never taken into the value
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Ask for one value whose secret part is never drawn. Resolves to the value, or {@link CANCELLED}. */
export function promptHidden(options: HiddenPromptOptions): Promise<string | typeof CANCELLED> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  const { color } = options;
  const bar = (style: 'cyan' | 'yellow' | 'dim') => paint(color, style, '│');
  let value = '';
  let error: string | undefined;
  let drawnRows = 0;

  const rows = (lines: string[]) => {
    const columns = Math.max(1, output.columns ?? 80);
    return lines.reduce((n, line) => n + Math.max(1, Math.ceil(line.replace(ANSI, '').length / columns)), 0);
  };
  const draw = (lines: string[], final = false) => {
    let text = '';
    if (drawnRows > 0) text += `\r${drawnRows > 1 ? `\u001b[${drawnRows - 1}A` : ''}\u001b[J`;
    text += lines.join('\n');
    if (final) text += '\n';
    output.write(text);
    drawnRows = final ? 0 : rows(lines);
  };
  const title = (symbol: string) => `${symbol}  ${options.message}${options.hint === undefined ? '' : `  ${paint(color, 'dim', options.hint)}`}`;
  const cursor = color ? '\u001b[7m \u001b[27m' : '█';
  const render = () => {
    if (error !== undefined) {
      draw([paint(color, 'dim', '│'), title(paint(color, 'yellow', '▲')), `${bar('yellow')}  ${options.mask(value)}${cursor}`, `${paint(color, 'yellow', '└')}  ${paint(color, 'yellow', error)}`]);
    } else {
      draw([paint(color, 'dim', '│'), title(paint(color, 'cyan', '◆')), `${bar('cyan')}  ${options.mask(value)}${cursor}`, paint(color, 'cyan', '└')]);
    }
  };

  return new Promise((resolve) => {
    emitKeypressEvents(input);
    const raw = input.isTTY === true;
    if (raw) input.setRawMode(true);
    input.resume();
    output.write('\u001b[?25l');
    const finish = (result: string | typeof CANCELLED) => {
      input.off('keypress', onKey);
      if (raw) input.setRawMode(false);
      input.pause();
      if (result === CANCELLED) draw([paint(color, 'dim', '│'), title(paint(color, 'red', '■')), `${paint(color, 'dim', '│')}  ${paint(color, 'dim', 'cancelled')}`], true);
      else draw([paint(color, 'dim', '│'), `${paint(color, 'green', '◇')}  ${options.message}`, `${paint(color, 'dim', '│')}  ${paint(color, 'dim', options.shown(result))}`], true);
      output.write('\u001b[?25h');
      resolve(result);
    };
    const onKey = (str: string | undefined, key: { name?: string; ctrl?: boolean; meta?: boolean; sequence?: string } | undefined) => {
      const name = key?.name;
      if ((key?.ctrl === true && (name === 'c' || name === 'd')) || name === 'escape') return finish(CANCELLED);
      if (name === 'return' || name === 'enter') {
        const candidate = value.trim();
        error = options.validate(candidate);
        if (error === undefined) return finish(candidate);
        return render();
      }
      error = undefined;
      if (name === 'backspace') value = [...value].slice(0, -1).join('');
      else if (key?.ctrl === true && name === 'u') value = '';
      else if (key?.ctrl !== true && key?.meta !== true && typeof str === 'string') value += str.replace(CONTROL, '');
      render();
    };
    input.on('keypress', onKey);
    render();
  });
}
