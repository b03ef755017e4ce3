/**
 * Keys as a person pressed them. A terminal may hand over several keys in one read — typing
 * fast over SSH, or a paste ending in a newline — and Ink then reports `50⏎` as one input
 * whose `return` flag is off. Split such a chunk into its text and the Enter presses in it,
 * so a field commits the same whatever the timing.
 */
import { useInput, type Key } from 'ink';

/** The keys in one chunk: text runs, and an Enter for every line break after the first character. */
export function splitKeys(input: string, key: Key): Array<{ input: string; key: Key }> {
  if (key.return || input.length < 2 || !/[\r\n]/.test(input)) return [{ input, key }];
  const out: Array<{ input: string; key: Key }> = [];
  const parts = input.split(/\r\n|\r|\n/);
  parts.forEach((part, i) => {
    if (part !== '') out.push({ input: part, key });
    if (i < parts.length - 1) out.push({ input: '', key: { ...key, return: true } });
  });
  return out;
}

/** Ink's `useInput`, with chunks split into the keys they hold. */
export function useKeys(handler: (input: string, key: Key) => void, options?: { isActive?: boolean }): void {
  useInput((input, key) => {
    for (const k of splitKeys(input, key)) handler(k.input, k.key);
  }, options);
}
