/**
 * Peers (the gateways this one reads from): the table, the selected peer below it, and the
 * actions renew (r), remove (d, asks first), add (a), details (Enter).
 */
import { useState } from 'react';
import { Box, Text } from 'ink';
import { useKeys } from '../lib/keys.js';
import type { Grant, Peer } from '@mosaic/federation-core';
import type { GrantActivity } from '../hooks/data.js';
import { useSyncState, type Poll } from '../hooks/usePoll.js';
import { errorText, type AdminApi } from '../lib/api.js';
import { countdown, escapeText } from '../lib/text.js';
import { Panel } from '../components/Chrome.js';
import { ConfirmBox } from '../components/Dialogs.js';
import { InboundSummary, PeerDetails, PeerTable } from '../components/Peers.js';
import { AddPeerForm } from './AddPeerForm.js';
import type { Flash } from './types.js';

export const PEERS_KEYS = '↑↓ select  enter details  r renew  a add  d remove  1-3 tabs  g gateway  ? help  q quit';

type View = { mode: 'list' | 'details' | 'add' } | { mode: 'remove'; name: string };

export function PeersScreen(props: {
  api: AdminApi;
  peers: Poll<Peer[]>;
  /** Median latency per peer (the status report's `peers[].latencyP50Ms`). */
  latency?: ReadonlyMap<string, number | null | undefined>;
  /** The grants this gateway issued (the inbound side) and their last hour, for the summary line. */
  inbound?: { grants: readonly Grant[] | undefined; activity: ReadonlyMap<string, GrantActivity> };
  active: boolean;
  width: number;
  height: number;
  now: number;
  flash: (f: Flash) => void;
  setCaptured: (captured: boolean) => void;
}) {
  const [selected, setSelected, selectedRef] = useSyncState(0);
  // `remove` remembers the peer's name, not its row: the list refreshes under the dialog
  const [view, setView, viewRef] = useSyncState<View>({ mode: 'list' });
  const mode = view.mode;
  const [busy, setBusy] = useState(false);
  const peers = props.peers.data ?? [];
  const sel = Math.min(selected, Math.max(0, peers.length - 1));
  const peer = peers[sel];
  const current = () => peers[Math.min(selectedRef.current, Math.max(0, peers.length - 1))];

  const go = (next: View) => {
    setView(next);
    props.setCaptured(next.mode === 'remove' || next.mode === 'add');
  };

  useKeys(
    (input, key) => {
      const peer = current();
      const cur = viewRef.current;
      if (cur.mode === 'remove') {
        if (input === 'y') {
          const name = cur.name;
          go({ mode: 'list' });
          setBusy(true);
          props
            .api.removePeer(name)
            .then(() => props.flash({ text: `✔ removed peer ${escapeText(name)}: its key and certificate are gone`, tone: 'green' }))
            .catch((err: unknown) => props.flash({ text: `✖ remove ${escapeText(name)}: ${escapeText(errorText(err))}`, tone: 'red' }))
            .finally(() => {
              setBusy(false);
              props.peers.refresh();
            });
        } else if (input === 'n' || key.escape) go({ mode: 'list' });
        return;
      }
      if (cur.mode === 'add') return;
      if (key.escape && cur.mode === 'details') return go({ mode: 'list' });
      if (key.upArrow || input === 'k') setSelected((s) => Math.max(0, Math.min(s, peers.length - 1) - 1));
      else if (key.downArrow || input === 'j') setSelected((s) => Math.max(0, Math.min(peers.length - 1, s + 1)));
      else if (key.return && peer) go({ mode: cur.mode === 'details' ? 'list' : 'details' });
      else if (input === 'a') go({ mode: 'add' });
      else if (input === 'd' && peer) go({ mode: 'remove', name: peer.name });
      else if (input === 'r' && peer && !busy) {
        setBusy(true);
        props.flash({ text: `renewing ${escapeText(peer.name)}…`, tone: 'yellow' });
        props.api
          .renewPeer(peer.name)
          .then((p) => props.flash({ text: `✔ renewed ${escapeText(p.name)}: certificate expires in ${countdown(p.certNotAfter, Date.now()).text}`, tone: 'green' }))
          .catch((err: unknown) => props.flash({ text: `✖ renew ${escapeText(peer.name)}: ${escapeText(errorText(err))}`, tone: 'red' }))
          .finally(() => {
            setBusy(false);
            props.peers.refresh();
          });
      }
    },
    { isActive: props.active },
  );

  if (mode === 'add') {
    return (
      <AddPeerForm
        api={props.api}
        width={props.width}
        taken={new Set(peers.map((p) => p.name))}
        active={props.active}
        onDone={(added) => {
          go({ mode: 'list' });
          if (added) {
            props.flash({ text: `✔ peer ${escapeText(added.name)} is ${added.state}`, tone: 'green' });
            props.peers.refresh();
          }
        }}
      />
    );
  }
  const detailsHeight = mode === 'details' ? 14 : 6;
  const inboundHeight = props.inbound ? 3 : 0;
  const tableHeight = Math.max(4, (peer || mode === 'remove' ? props.height - detailsHeight : props.height) - inboundHeight);
  return (
    <Box flexDirection="column" width={props.width}>
      <Panel title={`Peers (reads from) · ${peers.length}`} width={props.width} height={tableHeight}>
        {props.peers.loading ? <Text> loading…</Text> : <PeerTable peers={peers} selected={sel} width={props.width} height={tableHeight - 3} now={props.now} latency={props.latency} />}
      </Panel>
      {props.inbound ? (
        <Panel title="Inbound grants (others read from here)" width={props.width} height={inboundHeight}>
          <InboundSummary grants={props.inbound.grants} activity={props.inbound.activity} />
        </Panel>
      ) : null}
      {view.mode === 'remove' ? (
        <ConfirmBox
          title={`Remove peer ${escapeText(view.name)}?`}
          width={props.width}
          lines={['Its private key and certificate are deleted here; the grant on the other side stays until its admin revokes it.']}
          prompt="Remove it? y / n"
        />
      ) : peer ? (
        <Panel title={escapeText(peer.name)} width={props.width} height={detailsHeight}>
          <PeerDetails peer={peer} now={props.now} full={mode === 'details'} width={props.width} />
        </Panel>
      ) : null}
    </Box>
  );
}
