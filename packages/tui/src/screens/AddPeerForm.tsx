/**
 * `a` on Peers: enroll with another gateway, in Ink (the CLI's @clack wizard cannot run inside
 * Ink), with the same pin comparison: the CA the URL's host presents is fetched first (the
 * token is not sent), its key pin is shown beside the one you were given, and only a match —
 * or your explicit "yes, it matches" when comparing by eye — lets the enrollment go ahead.
 */
import { useState } from 'react';
import { useSyncState } from '../hooks/usePoll.js';
import { Box, Text } from 'ink';
import { useKeys } from '../lib/keys.js';
import { canonicalCaPin, enrollmentUrlProblem, redactEnrollmentUrl } from '@mosaic/federation-core/admin-client';
import type { Peer, PeerPreview } from '@mosaic/federation-core';
import { errorText, type AdminApi } from '../lib/api.js';
import { editLine } from '../lib/input.js';
import { escapeText, groupPin } from '../lib/text.js';
import { useTone } from '../lib/theme.js';
import { Panel } from '../components/Chrome.js';

const PEER_NAME = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/;

type Step = 'url' | 'fetching' | 'pin' | 'confirm' | 'mismatch' | 'name' | 'enrolling' | 'failed';

/** The URL as drawn while typed: up to the token, then a dot per token character. */
export function maskUrl(value: string): string {
  const at = value.indexOf('/enroll/');
  return escapeText(at < 0 ? value : `${value.slice(0, at + 8)}${'•'.repeat(Math.min(value.length - at - 8, 24))}`);
}

export function AddPeerForm(props: { api: AdminApi; width: number; taken: ReadonlySet<string>; active: boolean; onDone: (added: Peer | null) => void }) {
  const tone = useTone();
  // The key handler reads the refs: a paste ("<pin>\n") arrives as many keys before any re-render.
  const [step, setStep, stepRef] = useSyncState<Step>('url');
  const [url, setUrl, urlRef] = useSyncState('');
  const [pin, setPin, pinRef] = useSyncState('');
  const [name, setName, nameRef] = useSyncState('');
  const [preview, setPreview, previewRef] = useSyncState<(PeerPreview & { gatewayName?: string | undefined }) | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const enroll = (peerName: string) => {
    const pv = previewRef.current;
    if (pv === null) return;
    setStep('enrolling');
    props.api
      .addPeer({ enrollmentUrl: urlRef.current.trim(), caPin: pv.caPin, name: peerName })
      .then((peer) => props.onDone(peer))
      .catch((err: unknown) => {
        setProblem(errorText(err));
        setStep('failed');
      });
  };

  useKeys(
    (input, key) => {
      if (key.escape) return props.onDone(null);
      if (stepRef.current === 'url') {
        if (key.return) {
          const p = enrollmentUrlProblem(urlRef.current.trim());
          if (p !== null) return setProblem(`not an enrollment URL: ${p}`);
          setProblem(null);
          setStep('fetching');
          props.api
            .previewPeer(urlRef.current.trim())
            .then((pv) => {
              setPreview(pv);
              setName(pv.gatewayName !== undefined && !props.taken.has(pv.gatewayName) ? pv.gatewayName : '');
              setStep('pin');
            })
            .catch((err: unknown) => {
              setProblem(`could not fetch the CA: ${errorText(err)} — nothing was sent, nothing stored`);
              setStep('url');
            });
        } else setUrl((v) => editLine(v, input, key));
      } else if (stepRef.current === 'pin') {
        if (key.return) {
          if (pinRef.current.trim() === '') return setStep('confirm');
          const given = canonicalCaPin(pinRef.current);
          if (given === null) return setProblem('not a pin: sha256: and 64 hex digits (spaces and colons are fine)');
          setProblem(null);
          setStep(given === previewRef.current?.caPin ? 'name' : 'mismatch');
        } else setPin((v) => editLine(v, input, key));
      } else if (stepRef.current === 'confirm') {
        if (input === 'y') setStep('name');
        else if (input === 'n') setStep('mismatch');
      } else if (stepRef.current === 'name') {
        if (key.return) {
          const n = nameRef.current.trim();
          if (!PEER_NAME.test(n)) return setProblem('a-z, 0-9, ".", "_", "-" (1–64 characters, starting and ending with a letter or digit)');
          if (props.taken.has(n)) return setProblem(`a peer named "${n}" exists already`);
          setProblem(null);
          enroll(n);
        } else setName((v) => editLine(v, input, key, 64));
      } else if (stepRef.current === 'failed' || stepRef.current === 'mismatch') {
        if (key.return) props.onDone(null);
      }
    },
    { isActive: props.active },
  );

  const field = (label: string, value: string, editing: boolean) => (
    <Text wrap="truncate-end">
      <Text color={tone(editing ? 'cyan' : 'gray')}> {editing ? '›' : '◇'} {label.padEnd(16)}</Text>
      {value}
      {editing ? '▌' : ''}
    </Text>
  );
  const presented = preview === null ? [] : groupPin(preview.caPin);
  const given = canonicalCaPin(pin);
  return (
    <Panel title="Add a federation peer — Esc cancels" width={props.width} tone="cyan">
      {field('Enrollment URL', step === 'url' ? maskUrl(url) : escapeText(redactEnrollmentUrl(url.trim()) ?? '<redacted>'), step === 'url')}
      {step === 'url' ? <Text color={tone('gray')}>{'   '}from `grant token` on the serving side; the token stays hidden</Text> : null}
      {step === 'fetching' ? <Text color={tone('yellow')}> ◌ fetching the CA the host presents (the token is not sent)…</Text> : null}
      {preview !== null ? (
        <Box flexDirection="column">
          <Text wrap="truncate-end"> ◇ {escapeText(preview.serverName)} presents this CA key pin{preview.gatewayName ? ` (gateway "${escapeText(preview.gatewayName)}")` : ''}:</Text>
          {presented.map((l, i) => (
            <Text key={`p${i}`} bold>
              {'     '}
              {l}
            </Text>
          ))}
          {step !== 'confirm' ? field('Pin you were given', step === 'pin' ? escapeText(pin) : given === null ? '(compared by eye)' : '', step === 'pin') : null}
          {given !== null && step !== 'pin'
            ? groupPin(given).map((l, i) => (
                <Text key={`g${i}`} bold color={tone(given === preview.caPin ? 'green' : 'red')}>
                  {'     '}
                  {l}
                </Text>
              ))
            : null}
          {step === 'pin' ? <Text color={tone('gray')}>{'   '}paste the pin from the serving admin, or leave empty to compare by eye</Text> : null}
          {step === 'confirm' ? <Text bold> Does it match, group by group, the pin the serving admin gave you? y / n</Text> : null}
          {step === 'mismatch' ? (
            <Text color={tone('red')} bold wrap="wrap">
              {' '}✖ The CA key pins differ: nothing was sent, nothing was stored, the token is unused. Confirm the pin with the serving admin over a second channel. (Enter closes)
            </Text>
          ) : null}
          {step === 'name' || step === 'enrolling' || step === 'failed' ? (
            <>
              <Text color={tone('green')}> ✔ CA key pins match</Text>
              {field('Name for this peer', escapeText(name), step === 'name')}
            </>
          ) : null}
          {step === 'enrolling' ? <Text color={tone('yellow')}> ◌ generating a P-256 key, sending the CSR, enrolling, checking the link…</Text> : null}
        </Box>
      ) : null}
      {problem !== null ? (
        <Text color={tone('red')} wrap="wrap">
          {' '}
          {escapeText(problem)}
          {step === 'failed' ? ' (Enter closes)' : ''}
        </Text>
      ) : null}
    </Panel>
  );
}
