/**
 * `printError` in text mode: a message, hint or `-v` cause may quote what a gateway or peer sent
 * (SECURITY.md case 35) — escaped on the terminal, the words and the lines kept.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { printError, toCliError } from './output.js';
import { displayed } from './render/text.js';

function stderrOf(run: () => void): string {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

afterEach(() => vi.restoreAllMocks());

describe('printError (text)', () => {
  it('escapes control and bidi characters in the message, the hint and the -v cause, keeping the words', () => {
    const err = Object.assign(new Error('peer work said: \u001b[2Kall good\u202e'), {
      code: 'PEER_ERROR',
      status: 502,
      remediation: 'ask \u001b]8;;x\u0007its admin\u200b',
      cause: new Error('socket \u001b[31mreset\u2066'),
    });
    const text = stderrOf(() => printError({ json: false, verbose: true }, toCliError(err), false));
    expect(text).toBe('error: peer work said: ?[2Kall good?\nhint: ask ?]8;;x?its admin?\ndetail: socket ?[31mreset?\n');
    for (const ch of ['\u001b', '\u0007', '\u202e', '\u200b', '\u2066']) expect(text).not.toContain(ch);
  });

  it("keeps a multi-line message's lines (field details)", () => {
    const err = Object.assign(new Error('invalid body'), { code: 'VALIDATION_FAILED', status: 400, details: [{ path: 'scope', message: 'bad\u001b[2J' }] });
    const text = stderrOf(() => printError({ json: false, verbose: false }, toCliError(err), false));
    expect(text).toBe('error: invalid body\n  scope: bad?[2J\n');
  });
});

describe('displayed', () => {
  it('shows the zero-width characters as ? too, like the TUI', () => {
    expect(displayed('a\u200bb\u200cc\u200dd\u2060e\u2061f\u2064g\ufeffh')).toBe('a?b?c?d?e?f?g?h');
    expect(displayed('naïve — ✔ ok')).toBe('naïve — ✔ ok');
  });
});
