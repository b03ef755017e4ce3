/** Presentational pieces of the Audit tab: the virtualised table (only the rows that fit) and one row in full. */
import { Box, Text } from 'ink';
import type { TailRow } from '../lib/tail.js';
import { escapeText, fit, ms } from '../lib/text.js';
import { OUTCOME_TONE, useTone } from '../lib/theme.js';

export function auditColumns(width: number) {
  const fixed = { time: 9, verb: 13, outcome: 13, status: 4, rows: 5, latency: 8 };
  const flexible = Math.max(24, width - 3 - (fixed.time + fixed.verb + fixed.outcome + fixed.status + fixed.rows + fixed.latency));
  const peer = Math.floor(flexible * 0.34);
  const subject = Math.floor(flexible * 0.3);
  return { ...fixed, peer, subject, resource: flexible - peer - subject };
}

export function AuditTable(props: { rows: readonly TailRow[]; selected: number | null; width: number }) {
  const tone = useTone();
  const c = auditColumns(props.width);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {' '}
        {fit('TIME', c.time)}
        {fit('PEER', c.peer)}
        {fit('SUBJECT', c.subject)}
        {fit('VERB', c.verb)}
        {fit('RESOURCE', c.resource)}
        {fit('OUTCOME', c.outcome)}
        {fit('ST', c.status)}
        {fit('ROWS', c.rows, true)}
        {fit('LATENCY', c.latency, true)}
      </Text>
      {props.rows.map((r, i) => {
        const sel = i === props.selected;
        return (
          <Text key={r.seq} wrap="truncate-end" inverse={sel}>
            {sel ? '▶' : ' '}
            {r.time.padEnd(c.time)}
            {fit(r.peer, c.peer)}
            {fit(r.subject, c.subject)}
            {fit(r.verb, c.verb)}
            {fit(r.resource, c.resource)}
            <Text color={tone(OUTCOME_TONE[r.row.outcome])}>{fit(r.row.outcome, c.outcome)}</Text>
            {fit(String(r.row.statusCode), c.status)}
            {fit(String(r.row.rowsOut), c.rows, true)}
            {fit(ms(r.row.latencyMs), c.latency, true)}
          </Text>
        );
      })}
    </Box>
  );
}

export function AuditDetail(props: { row: TailRow }) {
  const tone = useTone();
  const r = props.row.row;
  const line = (label: string, value: React.ReactNode) => (
    <Text wrap="truncate-end">
      <Text color={tone('gray')}> {label.padEnd(13)}</Text>
      {value}
    </Text>
  );
  return (
    <Box flexDirection="column">
      {line('at', escapeText(r.at))}
      {line('outcome', <Text color={tone(OUTCOME_TONE[r.outcome])}>{`${r.outcome} (HTTP ${r.statusCode})`}</Text>)}
      {line('verb', `${props.row.verb} ${props.row.resource}`)}
      {line('peer', props.row.peer)}
      {line('subject', props.row.subject)}
      {line('grant', escapeText(r.grantId ?? '—'))}
      {line('trace id', escapeText(r.traceId ?? '—'))}
      {line('request id', `${escapeText(r.requestId)}${r.callerRequestId ? ` (caller's: ${escapeText(r.callerRequestId)})` : ''}`)}
      {line('rows / bytes', `${r.rowsOut} rows · ${r.bytesOut} bytes · ${ms(r.latencyMs)}`)}
      {line('query hash', escapeText(r.queryHash ?? '—'))}
      {r.adminTokenName ? line('admin token', escapeText(r.adminTokenName)) : null}
      {line('row id', escapeText(r.id))}
      <Text color={tone('gray')}> Esc or Enter closes</Text>
    </Box>
  );
}
