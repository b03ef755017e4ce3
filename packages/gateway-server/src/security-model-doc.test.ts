/**
 * docs/security-model.md stays true: every test it cites exists in the file it names, and
 * every adversarial case of SECURITY.md (1–38, with 7a–7c) is covered by some row.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const doc = readFileSync(join(root, 'docs/security-model.md'), 'utf8');

/** `file › name` references; the file defaults to the last one named in the same cell. */
function references(): Array<{ file: string; name: string }> {
  const out: Array<{ file: string; name: string }> = [];
  for (const line of doc.split('\n').filter((l) => l.startsWith('|'))) {
    let file: string | null = null;
    for (const [, ref] of line.matchAll(/`([^`]+)`/g)) {
      const m = /^(?:([\w./-]+\.test\.tsx?) )?› (.+)$/.exec(ref!);
      if (m === null) {
        if (/\.test\.tsx?$/.test(ref!)) file = ref!;
        continue;
      }
      file = m[1] ?? file;
      if (file !== null) out.push({ file, name: m[2]! });
    }
  }
  return out;
}

function resolveTestFile(file: string): string {
  for (const base of ['packages/gateway-server/src', 'packages/federation-core/src', 'packages/cli/src']) {
    const stripped = file.replace(/^(federation-core|cli)\//, '');
    const p = join(root, base, stripped);
    if (existsSync(p)) return p;
  }
  // a file named without its folder: the only one of that name in the gateway's suites
  for (const dir of ['federation-suite', 'federation', 'audit', 'limits']) {
    const p = join(root, 'packages/gateway-server/src', dir, file);
    if (existsSync(p)) return p;
  }
  throw new Error(`docs/security-model.md cites ${file}, which does not exist`);
}

describe('docs/security-model.md', () => {
  const refs = references();

  it('cites tests, each one existing under the name it is cited by', () => {
    expect(refs.length).toBeGreaterThan(60);
    const missing: string[] = [];
    for (const { file, name } of refs) {
      const source = readFileSync(resolveTestFile(file), 'utf8');
      // a cited name may end in "…" (shortened) and carry %s (it.each)
      const prefix = name.replace(/\s*…$/, '').split(/%s|…/)[0]!.trim();
      if (!source.includes(prefix)) missing.push(`${file} › ${name}`);
    }
    expect(missing).toEqual([]);
  });

  it('covers every adversarial case of SECURITY.md', () => {
    const covered = new Set<string>();
    for (const line of doc.split('\n').filter((l) => l.startsWith('|'))) {
      const last = line.split('|').slice(-2, -1)[0] ?? '';
      for (const [, c] of last.matchAll(/\b(\d{1,2}[abc]?)\b/g)) covered.add(c!);
    }
    const cases = [...Array.from({ length: 38 }, (_, i) => String(i + 1)), '7a', '7b', '7c'];
    expect(cases.filter((c) => !covered.has(c))).toEqual([]);
  });
});
