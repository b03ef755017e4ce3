/**
 * Talking to a person at a terminal: whether we may ask at all (stdin and stdout are TTYs and
 * `--no-input` was not given), and a yes/no question on stderr that Ctrl-C cancels.
 */
import type { GlobalOptions } from './context.js';

/** True when a prompt may be shown: stdin and stdout are terminals and `--no-input` is off. */
export function canPrompt(g: Pick<GlobalOptions, 'input'>): boolean {
  return g.input !== false && process.stdin.isTTY === true && process.stdout.isTTY === true;
}

/** What a question ended with: an answer, or Ctrl-C. */
export type Answer = { kind: 'yes' } | { kind: 'no' } | { kind: 'cancelled' };

/**
 * Ask `question [y/N]` on stderr and read one line from stdin. Anything but y/yes is no; end of
 * input is no; Ctrl-C is `cancelled` (the caller exits 130).
 */
export async function confirm(question: string): Promise<Answer> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const abort = new AbortController();
  let cancelled = false;
  rl.on('SIGINT', () => {
    cancelled = true;
    abort.abort();
  });
  const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
  try {
    const answer = await Promise.race([rl.question(`${question} [y/N] `, { signal: abort.signal }), closed]);
    return /^\s*y(es)?\s*$/i.test(answer) ? { kind: 'yes' } : { kind: 'no' };
  } catch (err) {
    if (cancelled || (err as Error).name === 'AbortError') {
      process.stderr.write('\n');
      return { kind: 'cancelled' };
    }
    throw err;
  } finally {
    rl.close();
  }
}
