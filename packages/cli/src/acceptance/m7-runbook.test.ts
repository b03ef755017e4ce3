// M7.8: docs/runbook.md, followed as an operator would — every command of the page, in page
// order, against two real gateways the page itself starts (work and home), with the built
// `mosaic` on PATH (packages/cli/src/test-support/docs-runner.ts; the annotation syntax is in
// docs/README.md). The page's own `expect` annotations check each step's outcome; this test
// also checks that the page covers onboarding, rotation and revocation, and the state it
// leaves behind.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { docProgram } from '../docs.js';
import { checkStatically, parseDoc, runDoc, type CommandRun } from '../test-support/docs-runner.js';
import { BIN } from '../test-support/gateways.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const PAGE = 'docs/runbook.md';

/** The runs whose command line contains `needle`. */
const ran = (runs: CommandRun[], needle: string) => runs.filter((r) => r.command.includes(needle));

describe('M7.8 the runbook', () => {
  it('M7.8 an operator following docs/runbook.md can onboard, tighten, rotate (renewal, re-enrollment, admin tokens), recover a lost data dir and revoke: every command of the page runs against two real gateways', async () => {
    const doc = parseDoc(PAGE, readFileSync(join(ROOT, PAGE), 'utf8'));
    expect(checkStatically(doc, await docProgram())).toEqual([]);
    let grants: Array<{ id: string; status: string }> = [];
    let homePeers: unknown[] = [];
    const { runs, values } = await runDoc(doc, {
      bin: BIN,
      atEnd: async (world) => {
        grants = JSON.parse((await world.sh('mosaic federation grant list --json', { gateway: 'work' })).output).items;
        homePeers = JSON.parse((await world.sh('mosaic federation peer list --json', { gateway: 'home' })).output).items;
      },
    });
    // the page walks every step (a step dropped from the page fails here, not silently)
    for (const step of [
      'mosaic federation grant create',
      'mosaic federation grant token <grant-id>',
      'mosaic federation peer add <enrollment-url>',
      'mosaic federation grant edit',
      'mosaic federation peer needs-renewal',
      'mosaic federation grant token <grant-id> --reenroll',
      'mosaic gateway admin-token create',
      'mosaic gateway admin-token revoke',
      'mosaic federation grant revoke',
      'mosaic federation audit verify',
    ]) {
      expect(ran(runs, step).length, step).toBeGreaterThan(0);
    }
    // onboarding, two re-enrollments and the recovery each linked the peer
    expect(ran(runs, 'mosaic federation peer add').length).toBe(3);
    // the state the page leaves: work's one grant revoked, home without the dead peer
    expect(grants).toEqual([expect.objectContaining({ id: values.get('grant-id'), status: 'revoked' })]);
    expect(homePeers).toEqual([]);
  }, 120_000);
});
