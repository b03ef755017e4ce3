/**
 * Grants (who reads from this gateway): the table, and on Enter the grant editor — toggles and
 * fields validated as you type with the gateway's own schema; s saves (PATCH), x revokes
 * (typed confirmation), t issues an enrollment token, e explains a resource row by row.
 */
import { useMemo, useState } from 'react';
import { Box, Text } from 'ink';
import { useKeys } from '../lib/keys.js';
import { RESOURCES, type ExplainResponse, type Grant, type Resource, type TokenResponse } from '@mosaic/federation-core';
import type { GrantActivity } from '../hooks/data.js';
import { useSyncState, type Poll } from '../hooks/usePoll.js';
import { errorText, type AdminApi } from '../lib/api.js';
import { checkDraft, draftFromScope, fieldsOf, isTextField, textOf, toggle, withText, type Draft } from '../lib/editor.js';
import { editLine } from '../lib/input.js';
import { escapeText, shortId } from '../lib/text.js';
import { Panel } from '../components/Chrome.js';
import { ConfirmBox } from '../components/Dialogs.js';
import { ExplainView, GrantForm, GrantTable, TokenView } from '../components/Grants.js';
import type { Flash } from './types.js';

export const GRANTS_KEYS = '↑↓ select  enter edit  1-3 tabs  g gateway  R refresh  ? help  q quit';
export const EDITOR_KEYS = '↑↓ field  space toggle  enter edit text  s save  x revoke  t token  e explain  esc back';

export function GrantsScreen(props: {
  api: AdminApi;
  grants: Poll<Grant[]>;
  activity: Map<string, GrantActivity>;
  active: boolean;
  width: number;
  height: number;
  flash: (f: Flash) => void;
  setCaptured: (captured: boolean) => void;
  setKeys: (keys: string | null) => void;
}) {
  const [selected, setSelected, selectedRef] = useSyncState(0);
  const [editing, setEditing] = useState<Grant | null>(null);
  const grants = props.grants.data ?? [];
  const sel = Math.min(selected, Math.max(0, grants.length - 1));

  const open = (g: Grant | null) => {
    setEditing(g);
    props.setCaptured(g !== null);
    props.setKeys(g === null ? null : EDITOR_KEYS);
  };

  useKeys(
    (input, key) => {
      if (key.upArrow || input === 'k') setSelected((s) => Math.max(0, Math.min(s, grants.length - 1) - 1));
      else if (key.downArrow || input === 'j') setSelected((s) => Math.max(0, Math.min(grants.length - 1, s + 1)));
      else if (key.return) {
        const g = grants[Math.min(selectedRef.current, grants.length - 1)];
        if (g) open(g);
      }
    },
    { isActive: props.active && editing === null },
  );

  if (editing !== null) {
    return (
      <GrantEditor
        key={editing.id}
        api={props.api}
        grant={editing}
        width={props.width}
        height={props.height}
        active={props.active}
        flash={props.flash}
        onClose={(changed) => {
          open(null);
          if (changed) props.grants.refresh();
        }}
      />
    );
  }
  return (
    <Panel title={`Grants (others read from this gateway) · ${grants.length}`} width={props.width} height={props.height}>
      {props.grants.loading ? <Text> loading…</Text> : <GrantTable grants={grants} activity={props.activity} selected={sel} width={props.width} height={props.height - 3} />}
    </Panel>
  );
}

type Sub = { kind: 'form' } | { kind: 'revoke'; typed: string; error: string | null } | { kind: 'token'; token: TokenResponse } | { kind: 'explain'; resource: Resource; result: ExplainResponse | null; error: string | null };

export function GrantEditor(props: { api: AdminApi; grant: Grant; width: number; height: number; active: boolean; flash: (f: Flash) => void; onClose: (changed: boolean) => void }) {
  const [grant, setGrant] = useState(props.grant);
  const original = useMemo(() => draftFromScope(grant.scope), [grant]);
  const [draft, setDraft, draftRef] = useSyncState<Draft>(original);
  const [focus, setFocus, focusRef] = useSyncState(0);
  const [textMode, setTextMode, textModeRef] = useSyncState(false);
  const [sub, setSub] = useState<Sub>({ kind: 'form' });
  const [busy, setBusy] = useState(false);
  const [changed, setChanged] = useState(false);
  const fields = fieldsOf(draft);
  const f = Math.min(focus, fields.length - 1);
  const check = useMemo(() => checkDraft(draft, grant.scope), [draft, grant.scope]);
  const dirty = JSON.stringify(draft) !== JSON.stringify(original);
  const prefix = grant.id.slice(0, 8);

  const explain = (resource: Resource) => {
    setSub({ kind: 'explain', resource, result: null, error: null });
    props.api
      .explainGrant(grant.id, resource)
      .then((result) => setSub((s) => (s.kind === 'explain' && s.resource === resource ? { ...s, result } : s)))
      .catch((err: unknown) => setSub((s) => (s.kind === 'explain' && s.resource === resource ? { ...s, error: errorText(err) } : s)));
  };

  useKeys(
    (input, key) => {
      if (busy) return;
      const fs = fieldsOf(draftRef.current);
      const field = fs[Math.min(focusRef.current, fs.length - 1)]!;
      const textMode = textModeRef.current;
      if (sub.kind === 'token') {
        if (key.escape || key.return) setSub({ kind: 'form' });
        return;
      }
      if (sub.kind === 'explain') {
        if (key.escape || key.return) return setSub({ kind: 'form' });
        if (key.leftArrow || key.rightArrow) {
          const i = RESOURCES.indexOf(sub.resource);
          explain(RESOURCES[(i + (key.rightArrow ? 1 : RESOURCES.length - 1)) % RESOURCES.length]!);
        }
        return;
      }
      if (sub.kind === 'revoke') {
        if (key.escape) return setSub({ kind: 'form' });
        if (key.return) {
          if (sub.typed.trim() !== prefix) return setSub({ ...sub, error: `type ${prefix} to revoke, or Esc` });
          setBusy(true);
          props.api
            .revokeGrant(grant.id, 'revoked in mosaic tui')
            .then(() => {
              props.flash({ text: `✔ grant ${prefix} revoked: its peer is refused from the next request on, its connections closed`, tone: 'green' });
              props.onClose(true);
            })
            .catch((err: unknown) => setSub({ kind: 'revoke', typed: sub.typed, error: errorText(err) }))
            .finally(() => setBusy(false));
          return;
        }
        return setSub({ ...sub, typed: editLine(sub.typed, input, key, 36), error: null });
      }
      if (textMode) {
        if (key.return || key.escape) return setTextMode(false);
        return setDraft((d) => withText(d, field, editLine(textOf(d, field), input, key, 4000)));
      }
      if (key.escape) return props.onClose(changed);
      if (key.upArrow || input === 'k') return setFocus((x) => Math.max(0, Math.min(x, fs.length - 1) - 1));
      if (key.downArrow || input === 'j') return setFocus((x) => Math.min(fs.length - 1, x + 1));
      if (input === ' ') return setDraft((d) => toggle(d, field));
      if (key.return) {
        if (isTextField(field)) setTextMode(true);
        else setDraft((d) => toggle(d, field));
        return;
      }
      if (input === 's') {
        if (check.scope === null) return props.flash({ text: '✖ not saved: fix the problems shown at the fields first', tone: 'red' });
        if (!dirty) return props.flash({ text: 'nothing to save', tone: 'yellow' });
        setBusy(true);
        props.api
          .updateGrant(grant.id, { scope: check.scope, ...(draft.allowSensitive ? { allowSensitive: true } : {}) })
          .then((g) => {
            setGrant(g);
            setDraft(draftFromScope(g.scope));
            setChanged(true);
            props.flash({ text: `✔ saved grant ${prefix}: effective on the peer's next request`, tone: 'green' });
          })
          .catch((err: unknown) => props.flash({ text: `✖ not saved: ${escapeText(errorText(err))}`, tone: 'red' }))
          .finally(() => setBusy(false));
        return;
      }
      if (input === 'x') return setSub({ kind: 'revoke', typed: '', error: null });
      if (input === 't') {
        setBusy(true);
        props.api
          .createToken(grant.id)
          .then((token) => setSub({ kind: 'token', token }))
          .catch((err: unknown) => props.flash({ text: `✖ no token: ${escapeText(errorText(err))}`, tone: 'red' }))
          .finally(() => setBusy(false));
        return;
      }
      if (input === 'e') explain(field.resource ?? grant.scope.resources[0] ?? 'tasks');
    },
    { isActive: props.active },
  );

  const title = `Grant ${shortId(grant.id)} · ${escapeText(grant.subjectUserId)} → ${escapeText(grant.peerName)} · ${grant.status}`;
  if (sub.kind === 'revoke') {
    return (
      <ConfirmBox
        title={`Revoke grant ${shortId(grant.id)}?`}
        width={props.width}
        lines={[`${escapeText(grant.peerName)} stops reading ${escapeText(grant.subjectUserId)}'s data at once: its certificate is refused and its connections closed.`, 'This cannot be undone (a new grant and enrollment would be needed).']}
        prompt={`Type ${prefix} and Enter to revoke (Esc keeps it):`}
        typed={escapeText(sub.typed)}
        error={sub.error}
      />
    );
  }
  return (
    <Box flexDirection="column">
      <Panel title={sub.kind === 'token' ? `${title} · enrollment token` : sub.kind === 'explain' ? `${title} · explain ${sub.resource}` : title} width={props.width} height={props.height} tone="cyan">
        {sub.kind === 'token' ? (
          <TokenView token={sub.token} grant={grant} />
        ) : sub.kind === 'explain' ? (
          sub.error !== null ? (
            <Text color="red"> ✖ {escapeText(sub.error)}</Text>
          ) : sub.result === null ? (
            <Text> explaining {sub.resource}…</Text>
          ) : (
            <ExplainView explain={sub.result} width={props.width} height={props.height - 2} />
          )
        ) : (
          <GrantForm draft={draft} fields={fields} focus={f} editing={textMode} check={check} width={props.width} height={props.height - 2} dirty={dirty} />
        )}
      </Panel>
    </Box>
  );
}
