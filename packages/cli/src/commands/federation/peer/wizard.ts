/**
 * The `peer add` wizard (UX.md): paste the enrollment URL (the token never drawn), see the key
 * pin the serving CA presents beside the one you were given — a mismatch stops before the token
 * is sent — choose the peer's name and local user, then one spinner while the gateway makes the
 * key and CSR, enrolls and checks the link, and a summary of what the peer may read.
 *
 * Drawn on stderr (stdout keeps the result: the Peer body with --json). Loaded only when a
 * person runs `peer add` on a terminal: @clack/prompts stays off every other command's path.
 * Ctrl-C at any step: exit 130 and nothing stored (see enroll.ts for the last step).
 */
import { cancel, confirm, intro, isCancel, log, outro, text } from '@clack/prompts';
import type { AdminClient } from '@mosaic/federation-core/admin-client';
import { canonicalCaPin, enrollmentUrlProblem, redactEnrollmentUrl, splitEnrollmentUrl } from '@mosaic/federation-core/admin-client';
import type { PeerPreview } from '@mosaic/federation-core';
import { colorWanted, ExitCode, paint, printResult, type OutputOptions } from '../../../output.js';
import { startSpinner } from '../../../interactive/spinner.js';
import { CANCELLED, promptHidden } from '../../../interactive/url-prompt.js';
import { displayed } from '../../../render/text.js';
import { explainFederationError, FederationCliError } from '../errors.js';
import type { AddPlan } from './add.js';
import { cancelledMessage, enrollPeer } from './enroll.js';
import { addedLines, renderPinComparison } from './render.js';

/** Peer names as the gateway accepts them (it checks again). */
const PEER_NAME = /^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$/;
// eslint-disable-next-line no-control-regex -- refused in a user id typed here
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const NOTHING_STORED = 'Cancelled: nothing was stored, and the token is still unused.';

/** The wizard's default peer name: the serving gateway's own, else the first label of the host when it is a name. */
export function suggestedName(preview: Pick<PeerPreview, 'serverName'> & { gatewayName?: string | undefined }, taken: ReadonlySet<string>): string | undefined {
  const label = preview.serverName.split('.')[0]?.toLowerCase();
  const candidates = [preview.gatewayName, /^[\d.]+$|^localhost$|:/.test(preview.serverName) ? undefined : label];
  for (const c of candidates) if (c !== undefined && PEER_NAME.test(c) && !taken.has(c)) return c;
  return undefined;
}

/** The URL as it may be drawn while typed: everything up to the token, then a dot per token character. */
export function maskEnrollmentUrl(value: string): string {
  const at = value.indexOf('/enroll/');
  const shown = at < 0 ? value : `${value.slice(0, at + '/enroll/'.length)}${'•'.repeat(Math.min(value.length - at - '/enroll/'.length, 24))}`;
  return displayed(shown);
}

/** Run the wizard; returns the exit code (errors that end it are thrown, said the CLI's way). */
export async function runWizard(admin: AdminClient, plan: Extract<AddPlan, { mode: 'wizard' }>, out: OutputOptions): Promise<number> {
  const output = process.stderr;
  const color = colorWanted(undefined, out.json, output) && out.color !== false;
  const io = { output, input: process.stdin };
  const stop = (message = NOTHING_STORED) => {
    cancel(message, io);
    return ExitCode.cancelled;
  };

  intro(paint(color, 'bold', 'Add a federation peer'), io);

  // 1. The enrollment URL, token hidden.
  let url: string;
  if (plan.enrollmentUrl !== undefined) {
    url = plan.enrollmentUrl;
    log.step(`Enrollment URL\n${paint(color, 'dim', displayed(redactEnrollmentUrl(url) ?? '<redacted>'))}`, io);
  } else {
    const answer = await promptHidden({
      message: 'Enrollment URL',
      hint: '(from `grant token` on the serving side; the token stays hidden)',
      validate: (v) => {
        if (v === '') return 'paste the URL, or Ctrl-C to stop';
        const problem = enrollmentUrlProblem(v);
        return problem === null ? undefined : `not an enrollment URL: ${problem}`;
      },
      mask: maskEnrollmentUrl,
      shown: (v) => redactEnrollmentUrl(v) ?? '<redacted>',
      color,
      ...io,
    });
    if (answer === CANCELLED) return stop();
    url = answer;
  }
  const host = splitEnrollmentUrl(url)?.host ?? 'the serving gateway';

  // 2. The CA the server presents (the token is not sent). Nothing is stored: Ctrl-C just leaves.
  const spin = startSpinner(`Fetching the CA that ${displayed(host)} presents…`, { color, stream: output });
  let interrupted!: () => void;
  const interruption = new Promise<'interrupted'>((resolve) => (interrupted = () => resolve('interrupted')));
  process.once('SIGINT', interrupted);
  let preview: PeerPreview & { gatewayName?: string };
  let taken: Set<string>;
  try {
    const fetched = await Promise.race([Promise.all([admin.previewPeer(url), admin.listPeers()]), interruption]);
    if (fetched === 'interrupted') {
      spin.cancel('Stopped');
      return stop();
    }
    preview = fetched[0];
    taken = new Set(fetched[1].items.map((p) => p.name));
  } catch (err) {
    spin.fail(`Could not fetch the CA of ${displayed(host)}`);
    cancel('Stopped: nothing was sent, nothing was stored.', io);
    throw explainFederationError(err, { host });
  } finally {
    process.off('SIGINT', interrupted);
  }
  const server = displayed(preview.gatewayName ?? preview.serverName);
  spin.done(`${displayed(host)} presents a CA${preview.gatewayName === undefined ? '' : ` for gateway "${server}"`} (not trusted until the pins match)`);

  // 3. The pin you were given, beside the one presented.
  let given: string | undefined = plan.caPin;
  if (given === undefined) {
    const answer = await text({
      message: 'CA pin you were given',
      placeholder: 'sha256:… from `grant token` — or leave empty to compare by eye',
      validate: (v) => (v === undefined || v.trim() === '' || canonicalCaPin(v) !== null ? undefined : 'not a pin: sha256: and 64 hex digits (spaces and colons are fine)'),
      ...io,
    });
    if (isCancel(answer)) return stop();
    given = answer.trim() === '' ? undefined : (canonicalCaPin(answer) ?? undefined);
  }
  let confirmedPin: string;
  if (given !== undefined) {
    const match = given === preview.caPin;
    const lines = renderPinComparison(
      [
        { label: `presented by ${displayed(host)}`, pin: preview.caPin },
        { label: 'you were given', pin: given },
      ],
      { color },
    );
    if (!match) {
      log.error([paint(color, 'red', 'The CA key pins differ'), ...lines].join('\n'), io);
      cancel('Stopped.', io);
      throw new FederationCliError(
        'PIN_MISMATCH',
        `the CA at ${displayed(host)} presents another key pin than the one you were given: nothing was sent, nothing was stored, the token is unused`,
        { status: 400, exitCode: ExitCode.failure, remediation: 'confirm the pin with the serving admin over a second channel (phone, chat); a mismatch may mean someone is in the middle' },
      );
    }
    log.message([`CA key pins match`, ...lines], { symbol: paint(color, 'green', '✔'), ...io });
    confirmedPin = given;
  } else {
    log.info(['The CA presents this key pin:', ...renderPinComparison([{ label: '', pin: preview.caPin }], { color }).map((l) => `  ${l.trimStart()}`)].join('\n'), io);
    const same = await confirm({ message: 'Does it match, group by group, the pin the serving admin gave you?', initialValue: false, ...io });
    if (isCancel(same)) return stop();
    if (!same) {
      cancel('Stopped.', io);
      throw new FederationCliError('PIN_MISMATCH', `you said the CA at ${displayed(host)} presents another key pin than the one you were given: nothing was sent, nothing was stored`, {
        status: 400,
        exitCode: ExitCode.failure,
        remediation: 'confirm the pin with the serving admin over a second channel; a mismatch may mean someone is in the middle',
      });
    }
    confirmedPin = preview.caPin;
  }

  // 4. The peer's name, and whose peer it is.
  let name = plan.name;
  if (name === undefined) {
    const suggestion = suggestedName(preview, taken);
    const answer = await text({
      message: 'Name for this peer',
      placeholder: suggestion ?? 'e.g. work',
      ...(suggestion === undefined ? {} : { initialValue: suggestion }),
      validate: (v) => {
        const n = (v ?? '').trim();
        if (!PEER_NAME.test(n)) return 'a-z, 0-9, ".", "_", "-" (1–64 characters, starting and ending with a letter or digit)';
        if (taken.has(n)) return `a peer named "${n}" exists already (mosaic federation peer remove ${n}, or pick another)`;
        return undefined;
      },
      ...io,
    });
    if (isCancel(answer)) return stop();
    name = answer.trim();
  }
  let localUserId = plan.localUserId;
  if (localUserId === undefined) {
    const answer = await text({
      message: 'Local user this peer belongs to',
      placeholder: 'leave empty: the grant’s subject user, as the serving side names it',
      validate: (v) => ((v ?? '').length > 256 ? 'at most 256 characters' : CONTROL.test(v ?? '') ? 'no control characters' : undefined),
      ...io,
    });
    if (isCancel(answer)) return stop();
    localUserId = answer.trim() === '' ? undefined : answer.trim();
  }

  // 5. Enrollment: key → CSR → certificate → capabilities, all on the gateway.
  const work = startSpinner('Generating a P-256 key, sending the CSR, enrolling, checking the link…', { color, stream: output });
  let outcome;
  try {
    outcome = await enrollPeer(
      admin,
      { enrollmentUrl: url, caPin: confirmedPin, name, ...(localUserId === undefined ? {} : { localUserId }) },
      { onInterrupt: () => work.message('Cancelling: waiting for the gateway to finish, then removing what it stored…') },
    );
  } catch (err) {
    work.fail(`Enrollment with ${displayed(host)} failed`);
    cancel('Stopped.', io);
    throw explainFederationError(err, { host, peer: name });
  }
  if (outcome.kind === 'cancelled') {
    work.cancel('Cancelled');
    return stop(cancelledMessage(outcome));
  }
  const peer = outcome.peer;
  const lines = addedLines(peer, Date.now());
  work.done(lines.certificate);
  log.step(lines.link, io);
  log.step(`Owned by local user ${displayed(peer.localUserId)}: only ${displayed(peer.localUserId)}'s queries reach it`, io);
  outro(`Peer "${displayed(peer.name)}" is ${peer.state}.  Next:  ${paint(color, 'cyan', lines.next)}`, io);
  if (out.json) printResult(out, peer, () => '');
  return ExitCode.ok;
}
