// The CLI's cold start depends on this subpath staying light: it must not load zod,
// @peculiar/x509, reflect-metadata or undici. Walk its real import graph as TypeScript emits
// it (type-only imports are erased, `import { type X }` is not) and list every package reached.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const HEAVY = ['zod', '@peculiar/x509', 'reflect-metadata', 'undici', 'tsyringe'];

function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
      fileName: file,
    });
    const specifiers = [...outputText.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
      (m) => m[1] ?? m[2] ?? m[3] ?? '',
    );
    for (const spec of specifiers) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('@mosaic/federation-core/admin-client', () => {
  it('loads no heavy dependency (zod, @peculiar/x509, reflect-metadata, undici)', () => {
    const { files, packages } = importGraph(resolve(here, 'index.ts'));
    expect(files.size).toBeGreaterThan(1); // the walk really followed imports
    for (const heavy of HEAVY) expect([...packages], `admin-client reaches ${heavy}`).not.toContain(heavy);
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });

  it('the walk does see heavy dependencies where they are (the check can fail)', () => {
    const { packages } = importGraph(resolve(here, '../protocol/index.ts'));
    expect([...packages]).toContain('zod');
  });
});
