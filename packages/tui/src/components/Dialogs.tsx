/** Small overlays: yes/no and typed confirmations, and the help list. */
import { Box, Text } from 'ink';
import { escapeText } from '../lib/text.js';
import { useTone } from '../lib/theme.js';
import { Panel } from './Chrome.js';

/** A yes/no or typed confirmation; `error` may quote a gateway's answer, so it is drawn escaped (the other texts are the caller's to escape). */
export function ConfirmBox(props: { title: string; lines: string[]; prompt: string; typed?: string | undefined; width: number; error?: string | null | undefined }) {
  const tone = useTone();
  return (
    <Panel title={props.title} width={props.width} tone="red">
      {props.lines.map((l, i) => (
        <Text key={i} wrap="truncate-end">
          {' '}
          {l}
        </Text>
      ))}
      <Text wrap="truncate-end" bold>
        {' '}
        {props.prompt}
        {props.typed === undefined ? '' : ` ${props.typed}▌`}
      </Text>
      {props.error ? (
        <Text color={tone('red')} wrap="truncate-end">
          {' '}
          {escapeText(props.error)}
        </Text>
      ) : null}
    </Panel>
  );
}

export const HELP: ReadonlyArray<[string, ReadonlyArray<[string, string]>]> = [
  [
    'everywhere',
    [
      ['1 2 3 / Tab', 'Peers, Grants, Audit (Shift-Tab back)'],
      ['g', 'switch gateway (profiles, local data dirs)'],
      ['R', 'retry / refresh now'],
      ['?', 'this help'],
      ['q / Ctrl-C', 'quit'],
      ['Esc', 'close a panel, form or dialog'],
    ],
  ],
  [
    'Peers',
    [
      ['↑↓ / j k', 'select'],
      ['Enter', 'details: endpoint, CA pin, capabilities, last error'],
      ['r', 'renew the certificate now'],
      ['a', 'add a peer (enrollment URL + CA pin)'],
      ['d', 'remove (asks first)'],
    ],
  ],
  [
    'Grants',
    [
      ['↑↓ / j k', 'select'],
      ['Enter', 'open the grant editor'],
      ['editor ↑↓ Space', 'move; toggle resource (read/excluded/off), personal, sensitive'],
      ['editor Enter', 'edit a text field (teams, max rows, rate limit); Enter/Esc ends'],
      ['editor s', 'save (PATCH; effective on the next request)'],
      ['editor x', 'revoke (type the grant id prefix to confirm)'],
      ['editor t', 'issue an enrollment token (URL + CA pin)'],
      ['editor e', 'explain: what the peer sees of the selected resource'],
    ],
  ],
  [
    'Audit',
    [
      ['Space', 'pause / resume the tail (new rows are counted)'],
      ['↑↓ PgUp PgDn', 'scroll (pauses); End or G: follow again'],
      ['/', 'filter: outcome:denied verb:list grant:6b1f peer:home text'],
      ['Enter', 'the selected row in full, with its trace id'],
      ['c', 'clear the filter'],
    ],
  ],
];

/** Lines the help has (for scrolling it). */
export const HELP_LINES = HELP.reduce((n, [, keys]) => n + 1 + keys.length, 0);

export function HelpOverlay(props: { width: number; height: number; offset?: number }) {
  const tone = useTone();
  const lines: React.ReactNode[] = [];
  for (const [section, keys] of HELP) {
    lines.push(
      <Text key={section} bold color={tone('cyan')}>
        {' '}
        {section}
      </Text>,
    );
    for (const [k, what] of keys) {
      lines.push(
        <Text key={`${section}-${k}`} wrap="truncate-end">
          {'   '}
          <Text bold>{k.padEnd(16)}</Text>
          {what}
        </Text>,
      );
    }
  }
  return (
    <Panel title="Keys — ? or Esc closes" width={props.width} height={props.height} tone="cyan">
      <Box flexDirection="column">{lines.slice(props.offset ?? 0, (props.offset ?? 0) + Math.max(1, props.height - 2))}</Box>
    </Panel>
  );
}
