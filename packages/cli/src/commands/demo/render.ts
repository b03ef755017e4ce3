/**
 * The demo's results on stdout, with the CLI's own renderers: the merged rows as `query list`
 * prints them (SOURCE `local` / `federated:work`), the refusal as `query get` reports a failed
 * source, work's audit row as `audit` prints it plus its trace and request ids. Each block is
 * headed by the command that shows the same on a running gateway. `--json`: one document.
 */
import type { AuditRow } from '@mosaic/federation-core';
import { paint } from '../../output.js';
import { displayed, keyValues } from '../../render/text.js';
import { renderAuditTable } from '../federation/audit/render.js';
import { renderQueryTable, sourceWarnings } from '../federation/query/render.js';
import { DEMO_USER, DENIED_CREDENTIAL } from './dataset.js';
import type { DemoResult } from './scenario.js';

/** `on home:  mosaic federation query …` — where the block comes from. */
function caption(gateway: string, command: string, color: boolean): string {
  return `${paint(color, 'dim', `on ${gateway}:`)}  ${paint(color, 'bold', command)}`;
}

/** The ids a person can follow the refusal by, across both gateways' logs. */
function auditIds(row: AuditRow, color: boolean): string {
  return keyValues(
    [
      ['trace id', displayed(row.traceId ?? '—')],
      ['request id', displayed(row.requestId)],
      ['grant', displayed(row.grantId ?? '—')],
      ['subject', displayed(row.subjectUserId ?? '—')],
    ],
    { color },
  );
}

/** The human results: three blocks, separated by blank lines. */
export function renderResults(r: DemoResult, options: { now: number; color: boolean }): string {
  const { color } = options;
  return [
    caption('home', `mosaic federation query list tasks --source all --as ${DEMO_USER}`, color),
    renderQueryTable(r.merged, { verb: 'list', color }),
    '',
    caption('home', `mosaic federation query get credentials ${DENIED_CREDENTIAL} --source federated:work --as ${DEMO_USER}`, color),
    ...sourceWarnings(r.denied).map((l) => paint(color, 'yellow', l)),
    '',
    caption('work', 'mosaic federation audit --verb get --outcome denied', color),
    renderAuditTable([r.audit], { now: options.now, color }),
    auditIds(r.audit, color),
    '',
  ].join('\n');
}

/** `--json`: the admin API's own bodies, under one key per step (no token, no secret). */
export function resultJson(r: DemoResult, extra: { tempDir: string; durationMs: number }): Record<string, unknown> {
  const gateway = (g: DemoResult['work']) => ({ name: g.name, adminUrl: g.adminUrl, federationUrl: g.federationUrl, dataDir: g.dataDir, caPin: g.caPin });
  return {
    tempDir: extra.tempDir,
    durationMs: Math.round(extra.durationMs),
    gateways: { work: gateway(r.work), home: gateway(r.home) },
    grant: r.grant,
    enrollment: r.enrollment,
    peer: r.peer,
    query: r.merged,
    denied: { query: r.denied, audit: r.audit },
  };
}
