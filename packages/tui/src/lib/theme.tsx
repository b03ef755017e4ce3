/**
 * Colour on or off for the whole app (off with NO_COLOR, TERM=dumb or --no-color): components
 * ask `useTone()` for a colour name, which is `undefined` when colour is off, so meaning never
 * rests on colour alone (states are also words, the selection is also `▶`).
 */
import { createContext, useContext } from 'react';
import type { AuditOutcome } from '@mosaic/federation-core';
import type { Urgency } from './text.js';

export const ColorContext = createContext(true);

export type Tone = 'green' | 'red' | 'yellow' | 'magenta' | 'cyan' | 'blue' | 'gray';

export function useTone(): (tone: Tone | undefined) => Tone | undefined {
  const color = useContext(ColorContext);
  return (tone) => (color ? tone : undefined);
}

export function useColor(): boolean {
  return useContext(ColorContext);
}

export const OUTCOME_TONE: Record<AuditOutcome, Tone> = { allowed: 'green', denied: 'red', rate_limited: 'yellow', error: 'magenta' };
export const URGENCY_TONE: Record<Urgency, Tone | undefined> = { ok: undefined, soon: 'yellow', urgent: 'red', expired: 'red' };
export const STATE_TONE: Record<string, Tone | undefined> = {
  active: 'green',
  degraded: 'yellow',
  revoked: 'red',
  pending: 'cyan',
  expired: 'gray',
  closed: 'green',
  open: 'red',
  half_open: 'yellow',
};

/** Whether colour is wanted: a TTY, no NO_COLOR, TERM not dumb. */
export function colorWanted(env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY === true): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}
