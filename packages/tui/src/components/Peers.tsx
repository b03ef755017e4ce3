/** Presentational pieces of the Peers screen. */
import { Box, Text } from 'ink';
import type { Grant, Peer } from '@mosaic/federation-core';
import type { GrantActivity } from '../hooks/data.js';
import { ago, countdown, escapeText, fit, groupPin, shortId } from '../lib/text.js';
import { STATE_TONE, URGENCY_TONE, useTone } from '../lib/theme.js';

const COLS = { name: 14, state: 9, expires: 10, ok: 8, circuit: 10, p50: 8 };

/** A recent median latency: `6 ms`, `1.2 s`, or `—` (no call in the window, or an older gateway). */
export function latencyText(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function PeerTable(props: {
  peers: readonly Peer[];
  selected: number;
  width: number;
  height: number;
  now: number;
  /** Median latency per peer name (the status report's `peers[].latencyP50Ms`). */
  latency?: ReadonlyMap<string, number | null | undefined>;
}) {
  const tone = useTone();
  const inner = props.width - 3;
  const rest = Math.max(6, inner - (COLS.name + COLS.state + COLS.expires + COLS.ok + COLS.circuit + COLS.p50));
  const rows = Math.max(1, props.height);
  const first = Math.max(0, Math.min(props.selected - rows + 1, props.peers.length - rows));
  const visible = props.peers.slice(first, first + rows);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {' '}
        {fit('NAME', COLS.name)}
        {fit('STATE', COLS.state)}
        {fit('EXPIRES', COLS.expires)}
        {fit('LAST OK', COLS.ok)}
        {fit('CIRCUIT', COLS.circuit)}
        {fit('P50', COLS.p50)}
        {fit('LAST ERROR', rest)}
      </Text>
      {props.peers.length === 0 ? (
        <Text color={tone('gray')} wrap="truncate-end">
          {' '}no peers yet — press a to add one with an enrollment URL from the other side
        </Text>
      ) : null}
      {visible.map((p, i) => {
        const sel = first + i === props.selected;
        const exp = countdown(p.certNotAfter, props.now);
        return (
          <Text key={p.name} wrap="truncate-end" inverse={sel}>
            {sel ? '▶' : ' '}
            {fit(p.name, COLS.name)}
            <Text color={tone(STATE_TONE[p.state])}>{fit(p.state, COLS.state)}</Text>
            <Text color={tone(URGENCY_TONE[exp.urgency])}>{fit(exp.text, COLS.expires)}</Text>
            {fit(ago(p.lastSuccessAt, props.now), COLS.ok)}
            <Text color={tone(STATE_TONE[p.circuit])}>{fit(p.circuit.replace('_', '-'), COLS.circuit)}</Text>
            {fit(latencyText(props.latency?.get(p.name)), COLS.p50)}
            <Text color={tone(p.lastError ? 'red' : 'gray')}>{fit(p.lastError ?? '—', rest)}</Text>
          </Text>
        );
      })}
    </Box>
  );
}

/** The selected peer in a few lines (below the table), or in full (Enter). */
export function PeerDetails(props: { peer: Peer; now: number; full: boolean; width: number }) {
  const tone = useTone();
  const p = props.peer;
  const caps = p.capabilities;
  const may = caps === null ? 'not checked yet' : `${caps.resources.map(escapeText).join(', ')} · max ${caps.max_rows_per_query} rows · ${caps.rate_limit_per_minute}/min`;
  const exp = countdown(p.certNotAfter, props.now);
  const due = countdown(p.renewalDueAt, props.now);
  const line = (label: string, value: React.ReactNode) => (
    <Text wrap="truncate-end">
      <Text color={tone('gray')}> {label.padEnd(11)}</Text>
      {value}
    </Text>
  );
  const pin = groupPin(p.caPin);
  return (
    <Box flexDirection="column">
      {line('endpoint', escapeText(p.endpoint))}
      {line('may read', may)}
      {line('cert', `serial ${shortId(p.certSerial, 12)} · expires in ${exp.text} · renewal ${due.urgency === 'expired' ? 'due now' : `due in ${due.text}`}`)}
      {props.full ? (
        <>
          {line('grant', `${p.grantId} (subject ${escapeText(p.subjectUserId)}, local user ${escapeText(p.localUserId)})`)}
          {line('CA pin', pin[0] ?? '')}
          {pin.slice(1).map((l) => line('', l))}
          {line('verbs', caps === null ? '—' : caps.supported_verbs.map(escapeText).join(', '))}
          {line('excluded', caps === null || caps.excluded_resources.length === 0 ? '—' : caps.excluded_resources.map(escapeText).join(', '))}
          {line('last ok', p.lastSuccessAt === null ? 'never' : `${ago(p.lastSuccessAt, props.now)} ago`)}
          {line('last fail', p.lastFailureAt === null ? 'never' : `${ago(p.lastFailureAt, props.now)} ago`)}
          {line('last error', <Text color={tone(p.lastError ? 'red' : undefined)}>{escapeText(p.lastError ?? '—')}</Text>)}
          {p.renewalFailingSince ? line('renewal', <Text color={tone('yellow')}>failing since {ago(p.renewalFailingSince, props.now)} ago</Text>) : null}
        </>
      ) : (
        line('last error', <Text color={tone(p.lastError ? 'red' : 'gray')}>{escapeText(p.lastError ?? '—')}</Text>)
      )}
    </Box>
  );
}

/** The inbound side in one line: the grants this gateway issued and their last hour (details on tab 2). */
export function InboundSummary(props: { grants: readonly Grant[] | undefined; activity: ReadonlyMap<string, GrantActivity> }) {
  const tone = useTone();
  if (props.grants === undefined) return <Text color={tone('gray')}> loading…</Text>;
  const by = (status: Grant['status']) => props.grants!.filter((g) => g.status === status).length;
  let requests = 0;
  let denied = 0;
  for (const g of props.grants) {
    const a = props.activity.get(g.id);
    requests += a?.requests ?? 0;
    denied += a?.denied ?? 0;
  }
  return (
    <Text wrap="truncate-end">
      {' '}
      <Text color={tone('green')}>{by('active')} active</Text>
      {` · ${by('pending')} pending · `}
      <Text color={tone(by('revoked') > 0 ? 'red' : undefined)}>{by('revoked')} revoked</Text>
      {by('expired') > 0 ? ` · ${by('expired')} expired` : ''}
      <Text color={tone('gray')}>{'  │  last hour '}</Text>
      {`${requests} requests · `}
      <Text color={tone(denied > 0 ? 'red' : undefined)}>{denied} denied</Text>
      <Text color={tone('gray')}>{'  · tab 2 per grant'}</Text>
    </Text>
  );
}
