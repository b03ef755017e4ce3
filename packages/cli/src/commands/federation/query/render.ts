/**
 * How a `POST /api/admin/query` answer looks on a terminal: rows in an 80-column table with a
 * SOURCE column (`local`, `federated:work`, `federated:work (cached)`), `get` as one block per
 * source that had the row, and one warning line per source that failed. Every value comes from
 * a store or a peer: all of it goes through `displayed` (SECURITY.md case 35).
 */
import type { QueryItem, QueryResponse } from '@mosaic/federation-core';
import { paint } from '../../../output.js';
import { displayed, keyValues, renderTable, shortTime, type Column } from '../../../render/text.js';
import { explainCode } from '../errors.js';

export type QueryVerb = 'list' | 'get' | 'search';

/** `local`, `federated:work`, `federated:work (cached)`. */
export function sourceCell(item: Pick<QueryItem, '_source' | '_cached'>): string {
  return `${item._source}${item._cached === true ? ' (cached)' : ''}`;
}

/** The rows of a list or search, 80 columns at most; search adds the score at its source. */
export function renderQueryTable(response: QueryResponse, options: { verb: QueryVerb; color: boolean }): string {
  const search = options.verb === 'search';
  const columns: Column<QueryItem>[] = [
    { title: 'SOURCE', width: 24, cell: sourceCell, style: (i) => (i._cached === true ? 'dim' : i._source === 'local' ? undefined : 'cyan') },
    { title: 'ID', width: 16, cell: (i) => i.id },
    ...(search ? [{ title: 'SCORE', width: 6, right: true, cell: (i: QueryItem) => (i._score === undefined ? '—' : i._score.toFixed(2)) }] : []),
    { title: 'TITLE', width: search ? 31 : 38, cell: (i) => i.title },
  ];
  return renderTable(columns, response.items, options.color);
}

function owner(item: QueryItem): string {
  if (item.ownerUserId !== undefined && item.ownerUserId !== null) return `${displayed(item.ownerUserId)} (personal)`;
  if (item.teamId !== undefined && item.teamId !== null) return `team ${displayed(item.teamId)}`;
  return '—';
}

/** `get`: one block per source that had the row; the body line by line, each line made safe. */
export function renderQueryItems(resource: string, response: QueryResponse, options: { color: boolean }): string {
  return response.items
    .map((item) => {
      const pairs: Array<[string, string]> = [
        ['title', displayed(item.title)],
        ['owner', owner(item)],
      ];
      if (item.createdAt !== undefined) pairs.push(['created', shortTime(item.createdAt)]);
      if (item.updatedAt !== undefined) pairs.push(['updated', shortTime(item.updatedAt)]);
      if (item.body !== undefined) {
        // continuation lines start under the first: indent 2 + the widest label + 2 (see keyValues)
        const pad = ' '.repeat(2 + Math.max(...[...pairs.map(([k]) => k), 'body'].map((k) => k.length)) + 2);
        const [first = '', ...rest] = item.body.split(/\r?\n/);
        pairs.push(['body', [displayed(first), ...rest.map((l) => `${pad}${displayed(l)}`)].join('\n')]);
      }
      const head = `${paint(options.color, 'bold', `${displayed(resource)}/${displayed(item.id)}`)}  from ${paint(options.color, 'cyan', displayed(sourceCell(item)))}`;
      return `${head}\n${keyValues(pairs, { color: options.color })}`;
    })
    .join('\n\n');
}

/** One line per source that failed: what happened there and, where known, what to do. */
export function sourceWarnings(response: QueryResponse): string[] {
  return response.sources
    .filter((s) => !s.ok)
    .map((s) => {
      const code = s.error?.code ?? 'ERROR';
      const message = s.error?.message ?? 'failed';
      const peer = s.source.startsWith('federated:') ? s.source.slice('federated:'.length) : undefined;
      const said = explainCode(code, message, peer === undefined ? {} : { peer });
      const hint = said?.remediation === undefined ? '' : ` → ${said.remediation}`;
      return `warning: ${displayed(s.source)} failed (${displayed(code)}): ${displayed(said?.message ?? message)}${displayed(hint)}`;
    });
}

/** Which sources were asked, for "no rows" lines: `local, federated:work`. */
export function askedSources(response: QueryResponse): string {
  return response.sources.length === 0 ? 'no source' : response.sources.map((s) => displayed(s.source)).join(', ');
}
