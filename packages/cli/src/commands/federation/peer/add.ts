import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { canonicalCaPin, enrollmentUrlProblem, redactEnrollmentUrl, splitEnrollmentUrl } from '@mosaic/federation-core/admin-client';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { colorWanted, ExitCode, printResult, UsageError } from '../../../output.js';
import { startSpinner } from '../../../interactive/spinner.js';
import { canPrompt } from '../../../tty.js';
import { displayed } from '../../../render/text.js';
import { explainFederationError, FederationCliError } from '../errors.js';
import { cancelledMessage, enrollPeer } from './enroll.js';
import { renderAdded } from './render.js';

interface AddFlags {
  name?: string;
  caPin?: string;
  localUser?: string;
}

/** What `peer add` was asked to do: enroll at once, or ask a person first. */
export type AddPlan =
  | { mode: 'direct'; enrollmentUrl: string; caPin: string; name?: string; localUserId?: string }
  | { mode: 'wizard'; enrollmentUrl?: string; caPin?: string; name?: string; localUserId?: string };

const ADD_LINE = 'mosaic federation peer add <enrollment url> --ca-pin sha256:<hex>';
const FROM_STDIN = '… | mosaic federation peer add - --ca-pin sha256:<hex>';

/** A usage error about the enrollment URL, which it never repeats (the URL holds the token). */
export function checkEnrollmentUrl(url: string): string {
  const problem = enrollmentUrlProblem(url);
  if (problem === null) return url.trim();
  throw new FederationCliError('ENROLLMENT_URL_INVALID', `not an enrollment URL: ${problem}`, {
    status: 400,
    remediation: 'paste the whole URL printed by `mosaic federation grant token` on the serving side: https://<host>:<port>/api/federation/v1/enroll/<token>',
  });
}

/** `--ca-pin` in any accepted spelling → `sha256:<hex>`. */
export function checkPin(pin: string): string {
  const canonical = canonicalCaPin(pin);
  if (canonical !== null) return canonical;
  throw new UsageError('--ca-pin: not a CA pin; expected sha256: and 64 hex digits (upper case, spaces and colons are fine)', 'copy it from the `grant token` output on the serving side');
}

/**
 * Argument and flags → what to do. `-` reads the URL from stdin (its first non-empty line).
 * A person on a terminal gets the wizard for whatever is missing; anything else missing is a
 * usage error naming the flags — and no URL is ever trusted without a pin someone confirmed.
 */
export function planAdd(url: string | undefined, flags: AddFlags, io: { interactive: boolean; readStdin: () => string }): AddPlan {
  const name = flags.name;
  const localUserId = flags.localUser;
  const caPin = flags.caPin === undefined ? undefined : checkPin(flags.caPin);
  let enrollmentUrl: string | undefined;
  if (url === '-') {
    const line = io
      .readStdin()
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '');
    if (line === undefined) throw new UsageError('stdin held no enrollment URL', `pipe the URL in: ${FROM_STDIN}`);
    enrollmentUrl = checkEnrollmentUrl(line);
    if (caPin === undefined) {
      throw new UsageError('--ca-pin is required with `-`: the URL came from stdin, so there is no terminal to confirm the pin on', `pass the pin from \`grant token\` on the serving side: ${FROM_STDIN}`);
    }
  } else if (url !== undefined) {
    enrollmentUrl = checkEnrollmentUrl(url);
  }
  const opt = { ...(name === undefined ? {} : { name }), ...(localUserId === undefined ? {} : { localUserId }) };
  if (enrollmentUrl !== undefined && caPin !== undefined) return { mode: 'direct', enrollmentUrl, caPin, ...opt };
  if (io.interactive) return { mode: 'wizard', ...(enrollmentUrl === undefined ? {} : { enrollmentUrl }), ...(caPin === undefined ? {} : { caPin }), ...opt };
  if (enrollmentUrl === undefined) {
    throw new UsageError('no enrollment URL, and no terminal to ask for one', `pass it: ${ADD_LINE} — or pipe it, to keep the token out of shell history: ${FROM_STDIN}`);
  }
  throw new UsageError(
    '--ca-pin is required when not on a terminal: without it nobody has confirmed whose CA this is (no trust on first use)',
    'pass the pin from `grant token` on the serving side (confirm it with its admin), or run `mosaic federation peer add` on a terminal to compare it there',
  );
}

/** `mosaic federation peer add [<url>|-]` — link a serving gateway as a peer of this one. */
export function peerAddCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('add')
    .description('link a serving gateway as a peer: enroll with its one-time URL, pinned to its CA (the wizard on a terminal)')
    .argument('[url]', 'the enrollment URL from `grant token` on the serving side, or - to read it from stdin')
    .option('--name <name>', 'local name for the peer (default: the serving gateway\'s name)')
    .option('--ca-pin <pin>', 'the serving CA\'s key pin, sha256:<hex> (from `grant token`; confirm it over a second channel)')
    .option('--local-user <id>', 'the local user this peer belongs to (default: the grant\'s subject user)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation peer add                       # the wizard: paste the URL, compare the pin
  pbpaste | mosaic federation peer add - --ca-pin sha256:9f3a41c2…
  mosaic federation peer add https://work.example.net:8443/api/federation/v1/enroll/… \\
      --ca-pin sha256:9f3a41c2… --name work --local-user alice

The URL carries a one-time token: it is never printed (…/enroll/<redacted>), and "-" keeps
it out of shell history. Without --ca-pin a person must confirm the pin in the wizard; off
a terminal that is exit 2. A wrong pin stops before the token is sent: nothing is stored,
the token stays unused (exit 1). Ctrl-C at any step leaves nothing stored (exit 130).

Exit codes: 0 linked · 1 refused or failed · 2 usage · 4 admin authentication · 130 cancelled`,
    )
    .action((url: string | undefined, flags: AddFlags, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const plan = planAdd(url, flags, { interactive: canPrompt(g), readStdin: () => readFileSync(0, 'utf8') });
        const admin = adminClient(g, version);
        if (plan.mode === 'wizard') {
          const { runWizard } = await import('./wizard.js');
          return runWizard(admin, plan, out);
        }
        const host = splitEnrollmentUrl(plan.enrollmentUrl)?.host ?? 'the serving gateway';
        const stderrColor = colorWanted(g.color, out.json, process.stderr);
        const spin = process.stderr.isTTY === true && !out.json && !out.quiet ? startSpinner(`Enrolling with ${displayed(host)}: key, CSR, certificate, link check…`, { color: stderrColor, guide: false }) : null;
        let outcome;
        try {
          outcome = await enrollPeer(
            admin,
            { enrollmentUrl: plan.enrollmentUrl, caPin: plan.caPin, ...(plan.name === undefined ? {} : { name: plan.name }), ...(plan.localUserId === undefined ? {} : { localUserId: plan.localUserId }) },
            { onInterrupt: () => spin?.message('Cancelling: waiting for the gateway to finish, then removing what it stored…') },
          );
        } catch (err) {
          spin?.fail(`Enrollment with ${displayed(host)} failed`);
          throw explainFederationError(err, { host });
        }
        if (outcome.kind === 'cancelled') {
          spin?.cancel('Cancelled');
          process.stderr.write(`${cancelledMessage(outcome)}\n`);
          return ExitCode.cancelled;
        }
        spin?.done(`Enrolled with ${displayed(host)}`);
        const redactedUrl = redactEnrollmentUrl(plan.enrollmentUrl) ?? '<redacted>';
        printResult(out, outcome.peer, () => renderAdded(outcome.peer, { now: Date.now(), color: out.color, redactedUrl }));
        return ExitCode.ok;
      }),
    );
}
