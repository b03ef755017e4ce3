/** The frame around every screen: the tab bar, the unreachable-gateway banner, the key line. */
import { Box, Text } from 'ink';
import type { ConnectionState } from '../hooks/data.js';
import { fit } from '../lib/text.js';
import { useTone } from '../lib/theme.js';

export const TABS = ['Peers', 'Grants', 'Audit'] as const;
export type TabName = (typeof TABS)[number];

export function TabBar(props: { gateway: string; tab: TabName; adminUrl: string; state: ConnectionState; width: number; extra?: string | undefined }) {
  const tone = useTone();
  const stateText = { connecting: '◌ connecting', live: '● live', down: '○ offline', refused: '✖ refused' }[props.state];
  const stateTone = { connecting: 'yellow', live: 'green', down: 'red', refused: 'red' } as const;
  const tabs = TABS.map((t, i) => (t === props.tab ? `[${i + 1} ${t}]` : ` ${i + 1} ${t} `));
  const left = ` mosaic · ${fit(props.gateway, 16).trimEnd()}  `;
  const right = `${props.extra ? `${props.extra}  ` : ''}admin ${props.adminUrl.replace(/^https?:\/\//, '')} `;
  const used = left.length + tabs.join(' ').length + right.length + stateText.length + 1;
  const gap = Math.max(1, props.width - used);
  return (
    <Box width={props.width}>
      <Text wrap="truncate-end">
        <Text bold>{left}</Text>
        {tabs.map((t, i) => (
          <Text key={t} bold={TABS[i] === props.tab} inverse={TABS[i] === props.tab} color={TABS[i] === props.tab ? undefined : tone('gray')}>
            {t}
            {i < tabs.length - 1 ? ' ' : ''}
          </Text>
        ))}
        {' '.repeat(gap)}
        <Text color={tone('gray')}>{right}</Text>
        <Text color={tone(stateTone[props.state])}>{stateText} </Text>
      </Text>
    </Box>
  );
}

export function Banner(props: { title: string; detail: string; hint: string; width: number }) {
  const tone = useTone();
  return (
    <Box borderStyle="round" borderColor={tone('red')} flexDirection="column" width={props.width} paddingX={1}>
      <Text color={tone('red')} bold wrap="truncate-end">
        ✖ {props.title}
      </Text>
      <Text wrap="truncate-end">{props.detail}</Text>
      <Text color={tone('gray')} wrap="truncate-end">
        {props.hint}
      </Text>
    </Box>
  );
}

/** The bottom line: a message (or the pause state) on the left, the keys of this screen. */
export function KeyLine(props: { keys: string; message?: { text: string; tone?: 'green' | 'red' | 'yellow' | undefined } | null | undefined; width: number }) {
  const tone = useTone();
  if (props.message) {
    return (
      <Text wrap="truncate-end" color={tone(props.message.tone)}>
        {' '}
        {props.message.text}
      </Text>
    );
  }
  return (
    <Text wrap="truncate-end" color={tone('gray')}>
      {' '}
      {props.keys}
    </Text>
  );
}

/** A bordered panel with its title in the top edge, like k9s. */
export function Panel(props: { title: string; width: number; height?: number | undefined; children?: React.ReactNode; tone?: 'red' | 'yellow' | 'cyan' | undefined }) {
  const tone = useTone();
  const title = fit(props.title, Math.max(1, props.width - 6)).trimEnd();
  const rule = '─'.repeat(Math.max(0, props.width - title.length - 4));
  return (
    <Box flexDirection="column" width={props.width} {...(props.height === undefined ? {} : { height: props.height })}>
      <Text color={tone(props.tone ?? 'gray')}>
        ┌ <Text bold color={tone(props.tone)}>{title}</Text> {rule}┐
      </Text>
      <Box flexDirection="column" flexGrow={1} borderStyle="single" borderTop={false} borderColor={tone(props.tone ?? 'gray')} overflow="hidden">
        {props.children}
      </Box>
    </Box>
  );
}
