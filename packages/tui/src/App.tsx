/**
 * The app shell: tabs Peers / Grants / Audit, the gateway switcher, help, the unreachable
 * banner and the key line. The data hooks live here, above the tabs, so the audit tail and
 * the polling keep running while another tab is shown.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useApp, useWindowSize } from 'ink';
import { useKeys } from './lib/keys.js';
import { useConnection, useGrantActivity, useGrants, usePeers } from './hooks/data.js';
import { useAuditTail } from './hooks/useAuditTail.js';
import { useNow, useSyncState } from './hooks/usePoll.js';
import { errorText, type AdminApi } from './lib/api.js';
import type { GatewayTarget } from './lib/gateways.js';
import { escapeText, fit } from './lib/text.js';
import { ColorContext, useTone } from './lib/theme.js';
import { Banner, KeyLine, Panel, TabBar, TABS, type TabName } from './components/Chrome.js';
import { HELP_LINES, HelpOverlay } from './components/Dialogs.js';
import { AUDIT_KEYS, AuditScreen, tailState } from './screens/AuditScreen.js';
import { GRANTS_KEYS, GrantsScreen } from './screens/GrantsScreen.js';
import { PEERS_KEYS, PeersScreen } from './screens/PeersScreen.js';
import type { Flash } from './screens/types.js';

export interface AppProps {
  /** The gateways to offer; the first (or `initial`) is opened. */
  targets: GatewayTarget[];
  initial?: number;
  /** An admin client for a gateway (the real program: `new AdminClient(...)`). */
  clientFor: (target: GatewayTarget) => AdminApi;
  /** More gateways, looked up when `g` is pressed (local data dirs). */
  discover?: () => GatewayTarget[];
  color?: boolean;
  /** Fixed size (tests); default: the terminal's, following resizes. */
  size?: { columns: number; rows: number };
  /** Polling interval (ms). */
  pollMs?: number;
  /** Fixed clock (tests). */
  now?: number;
  initialTab?: TabName;
  /** Called when the person presses Ctrl-C (the app then exits). */
  onInterrupt?: () => void;
}

export function App(props: AppProps) {
  const [targets, setTargets] = useState(props.targets);
  const [index, setIndex] = useState(props.initial ?? 0);
  const target = targets[Math.min(index, targets.length - 1)]!;
  const api = useMemo(() => props.clientFor(target), [props, target]);
  return (
    <ColorContext.Provider value={props.color ?? true}>
      <Shell
        key={`${target.baseUrl} ${index}`}
        api={api}
        target={target}
        targets={targets}
        index={index}
        onSwitch={(i, list) => {
          setTargets(list);
          setIndex(i);
        }}
        app={props}
      />
    </ColorContext.Provider>
  );
}

function Shell(props: { api: AdminApi; target: GatewayTarget; targets: GatewayTarget[]; index: number; onSwitch: (i: number, list: GatewayTarget[]) => void; app: AppProps }) {
  const { exit } = useApp();
  const tone = useTone();
  const window = useWindowSize();
  const columns = Math.max(40, props.app.size?.columns ?? window.columns ?? 80);
  const rows = Math.max(12, props.app.size?.rows ?? window.rows ?? 24);
  const pollMs = props.app.pollMs ?? 2000;
  const now = useNow(1000, props.app.now);

  const connection = useConnection(props.api, pollMs);
  const peers = usePeers(props.api, pollMs);
  const grants = useGrants(props.api, pollMs);
  const activity = useGrantActivity(props.api, Math.max(pollMs, 10_000));
  const tail = useAuditTail(props.api);
  const latency = useMemo(() => new Map((connection.status?.peers ?? []).map((p) => [p.name, p.latencyP50Ms])), [connection.status]);

  const [tab, setTab] = useState<TabName>(props.app.initialTab ?? 'Peers');
  const [overlay, setOverlay] = useState<'help' | 'gateways' | null>(null);
  const [helpOffset, setHelpOffset] = useState(0);
  const [captured, setCaptured] = useState(false);
  const [screenKeys, setScreenKeys] = useState<string | null>(null);
  const [flash, setFlash] = useState<Flash | null>(null);
  const [choices, setChoices] = useState<GatewayTarget[]>(props.targets);
  const [choice, setChoice, choiceRef] = useSyncState(props.index);
  const flashTimer = useRef<NodeJS.Timeout | undefined>(undefined);

  const showFlash = useCallback((f: Flash) => {
    setFlash(f);
    clearTimeout(flashTimer.current);
    flashTimer.current = setTimeout(() => setFlash(null), 6000);
  }, []);
  useEffect(() => () => clearTimeout(flashTimer.current), []);

  const refreshAll = () => {
    connection.retry();
    peers.refresh();
    grants.refresh();
  };

  useKeys(
    (input, key) => {
      if (key.ctrl && input === 'c') {
        props.app.onInterrupt?.();
        return exit();
      }
      if (overlay === 'help') {
        if (key.escape || input === '?' || input === 'q') setOverlay(null);
        else if (key.downArrow || input === 'j') setHelpOffset((o) => Math.min(o + 1, Math.max(0, HELP_LINES - 4)));
        else if (key.upArrow || input === 'k') setHelpOffset((o) => Math.max(0, o - 1));
        return;
      }
      if (overlay === 'gateways') {
        if (key.escape || input === 'g') setOverlay(null);
        else if (key.upArrow || input === 'k') setChoice((c) => Math.max(0, c - 1));
        else if (key.downArrow || input === 'j') setChoice((c) => Math.min(choices.length - 1, c + 1));
        else if (key.return) {
          setOverlay(null);
          if (choices[choiceRef.current]) props.onSwitch(choiceRef.current, choices);
        }
        return;
      }
      if (captured) return;
      if (input === 'q') return exit();
      if (input === '?') return setOverlay('help');
      if (input === '1' || input === '2' || input === '3') return setTab(TABS[Number(input) - 1]!);
      if (key.tab) {
        const i = TABS.indexOf(tab);
        return setTab(TABS[(i + (key.shift ? TABS.length - 1 : 1)) % TABS.length]!);
      }
      if (input === 'R') {
        refreshAll();
        return showFlash({ text: 'refreshing…', tone: 'yellow' });
      }
      if (input === 'g') {
        let list = props.targets;
        try {
          const found = props.app.discover?.() ?? [];
          const urls = new Set(list.map((t) => t.baseUrl));
          list = [...list, ...found.filter((t) => !urls.has(t.baseUrl))];
        } catch (err) {
          showFlash({ text: `could not look for local gateways: ${escapeText(errorText(err))}`, tone: 'red' });
        }
        setChoices(list);
        setChoice(Math.max(0, list.findIndex((t) => t.baseUrl === props.target.baseUrl)));
        setOverlay('gateways');
      }
    },
    { isActive: true },
  );

  const down = connection.state === 'down' || connection.state === 'refused';
  const bannerHeight = down ? 5 : 0;
  const bodyHeight = rows - 2 - bannerHeight;
  const active = overlay === null;
  const gatewayName = connection.status?.name ?? props.target.name;
  const keys = overlay === 'help' ? '↑↓ scroll  esc close' : overlay === 'gateways' ? '↑↓ select  enter switch  esc close' : (screenKeys ?? { Peers: PEERS_KEYS, Grants: GRANTS_KEYS, Audit: AUDIT_KEYS }[tab]);
  const paused = tail.pausedAt !== null ? { text: `${tailState(tail)} · space resumes`, tone: 'yellow' as const } : null;

  return (
    <Box flexDirection="column" width={columns} height={rows}>
      <TabBar gateway={gatewayName} tab={tab} adminUrl={props.api.baseUrl} state={connection.state} width={columns} extra={tail.pausedAt !== null ? tailState(tail) : undefined} />
      {down ? (
        <Banner
          width={columns}
          title={connection.state === 'refused' ? `the gateway at ${props.api.baseUrl} refused the admin token` : `cannot reach the admin API at ${props.api.baseUrl}`}
          detail={escapeText(errorText(connection.error))}
          hint={connection.state === 'refused' ? 'check --token-file / MOSAIC_ADMIN_TOKEN / the profile; R retries, g switches gateway' : `retrying every ${Math.round(pollMs / 1000)} s by itself · R retries now · g switches gateway · start it: mosaic gateway start`}
        />
      ) : null}
      <Box height={bodyHeight} flexDirection="column">
        {overlay === 'help' ? (
          <HelpOverlay width={columns} height={bodyHeight} offset={helpOffset} />
        ) : overlay === 'gateways' ? (
          <Panel title="Switch gateway — Enter opens, Esc stays" width={columns} height={bodyHeight} tone="cyan">
            {choices.map((t, i) => (
              <Text key={`${t.baseUrl}${i}`} inverse={i === choice} wrap="truncate-end">
                {i === choice ? '▶' : ' '}
                {fit(t.name, 16)}
                {fit(t.baseUrl.replace(/^https?:\/\//, ''), 24)}
                <Text color={tone('gray')}>{escapeText(t.source)}</Text>
                {t.baseUrl === props.target.baseUrl ? <Text color={tone('green')}> (open)</Text> : null}
              </Text>
            ))}
          </Panel>
        ) : tab === 'Peers' ? (
          <PeersScreen
            api={props.api}
            peers={peers}
            latency={latency}
            inbound={{ grants: grants.data, activity }}
            active={active} width={columns} height={bodyHeight} now={now} flash={showFlash} setCaptured={setCaptured} />
        ) : tab === 'Grants' ? (
          <GrantsScreen api={props.api} grants={grants} activity={activity} active={active} width={columns} height={bodyHeight} flash={showFlash} setCaptured={setCaptured} setKeys={setScreenKeys} />
        ) : (
          <AuditScreen tail={tail} active={active} width={columns} height={bodyHeight} setCaptured={setCaptured} />
        )}
      </Box>
      <KeyLine keys={keys} message={flash ?? paused} width={columns} />
    </Box>
  );
}
