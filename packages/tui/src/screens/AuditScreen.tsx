/**
 * Audit: the live tail, newest at the bottom like `tail -f`. Space pauses (rows keep arriving
 * and are counted), ↑↓ scroll back (which pauses), `/` filters, Enter shows a row in full.
 */
import { useState } from 'react';
import { Box, Text } from 'ink';
import { useKeys } from '../lib/keys.js';
import type { AuditTail } from '../hooks/useAuditTail.js';
import { editLine } from '../lib/input.js';
import { isEmptyFilter, parseFilter, type TailRow } from '../lib/tail.js';
import { escapeText } from '../lib/text.js';
import { useTone } from '../lib/theme.js';
import { Panel } from '../components/Chrome.js';
import { AuditDetail, AuditTable } from '../components/Audit.js';

export const AUDIT_KEYS = 'space pause  ↑↓ scroll  / filter  enter row  end follow  1-3 tabs  ? help  q quit';

/** `⏸ paused — 37 new` or `● following`, for the key line and the panel title. */
export function tailState(tail: Pick<AuditTail, 'pausedAt' | 'newSincePause' | 'connected'>): string {
  if (tail.pausedAt !== null) return `⏸ paused — ${tail.newSincePause} new`;
  return tail.connected ? '● following' : '○ reconnecting';
}

export function AuditScreen(props: { tail: AuditTail; active: boolean; width: number; height: number; setCaptured: (c: boolean) => void }) {
  const tone = useTone();
  const [filterText, setFilterText] = useState('');
  const [editingFilter, setEditingFilter] = useState(false);
  const [sel, setSel] = useState(0);
  const [detail, setDetail] = useState<TailRow | null>(null);
  const t = props.tail;
  const filter = parseFilter(filterText);
  const filterLine = editingFilter || !isEmptyFilter(filter) ? 1 : 0;
  const room = Math.max(1, props.height - 3 - filterLine);
  const untilSeq = t.pausedAt ?? undefined;
  const skip = Math.max(0, sel - (room - 1));
  const rows = t.model.window(room, { ...(untilSeq === undefined ? {} : { untilSeq }), skip, filter });
  const selectedIndex = rows.length === 0 ? null : rows.length - 1 - (sel - skip);
  const selected = selectedIndex === null ? undefined : rows[selectedIndex];

  useKeys(
    (input, key) => {
      if (detail !== null) {
        if (key.escape || key.return) setDetail(null);
        return;
      }
      if (editingFilter) {
        if (key.return || key.escape) {
          if (key.escape) setFilterText('');
          setEditingFilter(false);
          props.setCaptured(false);
          setSel(0);
          return;
        }
        setFilterText((v) => editLine(v, input, key, 200));
        return;
      }
      const total = t.model.countMatching(filter, untilSeq, sel + room + 1);
      const up = (n: number) => {
        if (t.pausedAt === null) t.pause();
        setSel((s) => Math.max(0, Math.min(s + n, total - 1)));
      };
      if (input === ' ') {
        if (t.pausedAt !== null) setSel(0);
        t.toggle();
      } else if (key.upArrow || input === 'k') up(1);
      else if (key.pageUp) up(room);
      else if (key.downArrow || input === 'j') setSel((s) => Math.max(0, s - 1));
      else if (key.pageDown) setSel((s) => Math.max(0, s - room));
      else if (key.end || input === 'G') {
        setSel(0);
        t.resume();
      } else if (input === '/') {
        setEditingFilter(true);
        props.setCaptured(true);
      } else if (input === 'c') setFilterText('');
      else if (key.return && selected) setDetail(selected);
    },
    { isActive: props.active },
  );

  if (detail !== null) {
    return (
      <Panel title={`Audit row ${escapeText(detail.row.id)}`} width={props.width} height={props.height} tone="cyan">
        <AuditDetail row={detail} />
      </Panel>
    );
  }
  const title = `Audit · ${t.model.ring.size} row(s) kept · ${tailState(t)}`;
  return (
    <Panel title={title} width={props.width} height={props.height} tone={t.pausedAt !== null ? 'yellow' : undefined}>
      {filterLine ? (
        <Text wrap="truncate-end" color={tone(editingFilter ? 'cyan' : 'yellow')}>
          {' '}/ {escapeText(filterText)}
          {editingFilter ? '▌  (outcome:denied verb:list grant:6b1f peer:home text · Enter applies · Esc clears)' : '  (/ edits, c clears)'}
        </Text>
      ) : null}
      <Box flexDirection="column" height={room + 1}>
        <AuditTable rows={rows} selected={t.pausedAt !== null ? selectedIndex : null} width={props.width} />
        {rows.length === 0 ? (
          <Text color={tone('gray')}>
            {' '}
            {isEmptyFilter(filter) ? (t.connected ? 'waiting for federation requests…' : (t.error ? `reconnecting: ${escapeText(t.error)}` : 'connecting to the audit stream…')) : 'no row matches the filter'}
          </Text>
        ) : null}
      </Box>
    </Panel>
  );
}
