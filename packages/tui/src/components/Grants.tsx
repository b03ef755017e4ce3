/** Presentational pieces of the Grants screen: the table and the editor form. */
import { Box, Text } from 'ink';
import type { Grant, ExplainResponse, TokenResponse } from '@mosaic/federation-core';
import type { GrantActivity } from '../hooks/data.js';
import type { Draft, DraftCheck, Field } from '../lib/editor.js';
import { escapeText, fit, groupPin, shortId } from '../lib/text.js';
import { STATE_TONE, useTone } from '../lib/theme.js';

const COLS = { id: 11, subject: 11, peer: 11, status: 9, rate: 8, req: 7 };

export function GrantTable(props: { grants: readonly Grant[]; activity: Map<string, GrantActivity>; selected: number; width: number; height: number }) {
  const tone = useTone();
  const inner = props.width - 3;
  const resW = Math.max(8, inner - (COLS.id + COLS.subject + COLS.peer + COLS.status + COLS.rate + COLS.req + 7));
  const rows = Math.max(1, props.height);
  const first = Math.max(0, Math.min(props.selected - rows + 1, props.grants.length - rows));
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        {' '}
        {fit('ID', COLS.id)}
        {fit('SUBJECT', COLS.subject)}
        {fit('PEER', COLS.peer)}
        {fit('STATUS', COLS.status)}
        {fit('RESOURCES', resW)}
        {fit('RATE', COLS.rate)}
        {fit('REQ/1h', COLS.req)}
        {'DENIED'}
      </Text>
      {props.grants.length === 0 ? (
        <Text color={tone('gray')} wrap="truncate-end">
          {' '}no grants yet — create one: mosaic federation grant create --user &lt;id&gt; --peer &lt;name&gt; --scope scope.json
        </Text>
      ) : null}
      {props.grants.slice(first, first + rows).map((g, i) => {
        const sel = first + i === props.selected;
        const a = props.activity.get(g.id);
        return (
          <Text key={g.id} wrap="truncate-end" inverse={sel}>
            {sel ? '▶' : ' '}
            {fit(shortId(g.id), COLS.id)}
            {fit(g.subjectUserId, COLS.subject)}
            {fit(g.peerName, COLS.peer)}
            <Text color={tone(STATE_TONE[g.status])}>{fit(g.status, COLS.status)}</Text>
            {fit(g.scope.resources.join(','), resW)}
            {fit(`${g.scope.rate_limit_per_minute}/min`, COLS.rate)}
            {fit(String(a?.requests ?? 0), COLS.req)}
            <Text color={tone(a && a.denied > 0 ? 'red' : undefined)}>{String(a?.denied ?? 0)}</Text>
          </Text>
        );
      })}
    </Box>
  );
}

const STATE_MARK = { off: '[ ]', read: '[✔]', excluded: '[✖]' } as const;
const STATE_WORD = { off: 'not granted', read: 'read', excluded: 'excluded' } as const;

export function GrantForm(props: { draft: Draft; fields: Field[]; focus: number; editing: boolean; check: DraftCheck; width: number; height: number; dirty: boolean }) {
  const tone = useTone();
  const d = props.draft;
  const lines = props.fields.map((f, i) => {
    const focused = i === props.focus;
    const err = props.check.errors.get(f.id);
    const cursor = focused && props.editing ? '▌' : '';
    let label: string;
    let value: React.ReactNode;
    if (f.kind === 'resource' && f.resource) {
      const st = d.resources[f.resource];
      label = `${STATE_MARK[st]} ${f.resource}`;
      value = <Text color={tone(st === 'read' ? 'green' : st === 'excluded' ? 'red' : 'gray')}>{STATE_WORD[st]}</Text>;
    } else if (f.kind === 'teams' && f.resource) {
      label = '    teams';
      const t = d.teams[f.resource];
      value = t === '' && !(focused && props.editing) ? <Text color={tone('gray')}>all the subject&apos;s teams</Text> : `${escapeText(t)}${cursor}`;
    } else if (f.kind === 'personal' && f.resource) {
      label = '    personal rows';
      value = d.personal[f.resource] ? '[✔] included' : '[ ] left out';
    } else if (f.kind === 'maxRows') {
      label = 'max rows/query';
      value = `${escapeText(d.maxRows)}${cursor}`;
    } else if (f.kind === 'rateLimit') {
      label = 'rate limit/min';
      value = `${escapeText(d.rateLimit)}${cursor}`;
    } else {
      label = 'allow sensitive';
      value = d.allowSensitive ? '[✔] credentials/api_keys may be granted' : '[ ] (needed to add credentials/api_keys)';
    }
    return (
      <Text key={f.id} wrap="truncate-end" inverse={focused && !props.editing}>
        {focused ? '▶' : ' '}
        {label.padEnd(20)}
        {value}
        {err ? <Text color={tone('red')}>{`  ✖ ${escapeText(err)}`}</Text> : null}
      </Text>
    );
  });
  const room = Math.max(3, props.height - 2);
  const first = Math.max(0, Math.min(props.focus - Math.floor(room / 2), lines.length - room));
  const ok = props.check.scope !== null;
  return (
    <Box flexDirection="column">
      {lines.slice(first, first + room)}
      {props.check.general.map((g, i) => (
        <Text key={`g${i}`} color={tone('red')} wrap="truncate-end">
          {' '}✖ {escapeText(g)}
        </Text>
      ))}
      <Text wrap="truncate-end" color={tone(ok ? 'green' : 'red')}>
        {' '}
        {ok ? `✔ valid${props.dirty ? ' · unsaved changes — s saves' : ' · no changes'}` : `✖ ${props.check.errors.size + props.check.general.length} problem(s) — fix them to save`}
      </Text>
    </Box>
  );
}

export function TokenView(props: { token: TokenResponse; grant: Grant }) {
  const tone = useTone();
  return (
    <Box flexDirection="column">
      <Text wrap="wrap">
        {' '}Enrollment token for grant {shortId(props.grant.id)} ({escapeText(props.grant.subjectUserId)} → {escapeText(props.grant.peerName)}), single use, valid until{' '}
        {new Date(props.token.expiresAt).toLocaleTimeString()}. Send this to the admin of &quot;{escapeText(props.grant.peerName)}&quot;:
      </Text>
      <Text> </Text>
      <Text bold wrap="wrap">
        {'  '}mosaic federation peer add {escapeText(props.token.enrollmentUrl)} --ca-pin {escapeText(props.token.caPin)}
      </Text>
      <Text> </Text>
      <Text color={tone('gray')}> CA key pin, for them to confirm over a second channel:</Text>
      {groupPin(props.token.caPin).map((l, i) => (
        <Text key={i} bold>
          {'    '}
          {l}
        </Text>
      ))}
      <Text color={tone('gray')}> Esc closes</Text>
    </Box>
  );
}

export function ExplainView(props: { explain: ExplainResponse; width: number; height: number }) {
  const tone = useTone();
  const rows = props.explain.rows;
  const seen = rows.filter((r) => r.included).length;
  const room = Math.max(1, props.height - 3);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        {' '}
        {escapeText(props.explain.resource)}: the peer sees {seen} of {rows.length} row(s) · ←→ another resource · Esc closes
      </Text>
      <Text bold wrap="truncate-end">
        {'   '}
        {fit('ID', 14)}
        {fit('RULE', 17)}
        TITLE
      </Text>
      {rows.slice(0, room).map((r) => (
        <Text key={r.id} wrap="truncate-end">
          <Text color={tone(r.included ? 'green' : 'red')}>{r.included ? ' ✔ ' : ' ✖ '}</Text>
          {fit(r.id, 14)}
          {fit(r.rule, 17)}
          {fit(r.title, Math.max(4, props.width - 40))}
        </Text>
      ))}
      {rows.length > room ? <Text color={tone('gray')}> … {rows.length - room} more</Text> : null}
    </Box>
  );
}
