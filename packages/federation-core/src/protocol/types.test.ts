import { readFile } from 'node:fs/promises';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AuditOutcome, ExplainRow, Grant, GrantStatus, Peer, QueryRequest, Scope, SeedFile, AddPeerRequest, AddPeerRequestParsed } from './types.js';
import type { ExplainRule } from '../scope/types.js';

const typesFile = new URL('./types.ts', import.meta.url);
const scopeTypesFile = new URL('../scope/types.ts', import.meta.url);

describe('types.ts is free at runtime (the admin client imports it with `import type`)', () => {
  it.each([[typesFile], [scopeTypesFile]])('%s has only type imports and type exports', async (file) => {
    const source = await readFile(file, 'utf8');
    const statements = source.match(/^(import|export)\b[^;]*;/gms) ?? [];
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      expect(s, s).toMatch(/^(import type |export type |export interface )/);
    }
  });

  it.each([[typesFile], [scopeTypesFile]])('%s compiles to an empty module', async (file) => {
    const source = await readFile(file, 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
      fileName: file.pathname,
    });
    const code = outputText.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').trim();
    expect(code).toBe('export {};');
  });
});

describe('the inferred types say what the contract says', () => {
  it('enums', () => {
    expectTypeOf<Grant['status']>().toEqualTypeOf<GrantStatus>();
    expectTypeOf<GrantStatus>().toEqualTypeOf<'pending' | 'active' | 'revoked' | 'expired'>();
    expectTypeOf<Peer['state']>().toEqualTypeOf<'active' | 'degraded' | 'revoked'>();
    expectTypeOf<Peer['circuit']>().toEqualTypeOf<'closed' | 'open' | 'half_open'>();
    expectTypeOf<AuditOutcome>().toEqualTypeOf<'allowed' | 'denied' | 'rate_limited' | 'error'>();
    expectTypeOf<ExplainRow['rule']>().toEqualTypeOf<ExplainRule>();
  });
  it('nullable fields and the stored scope', () => {
    expectTypeOf<Grant['activatedAt']>().toEqualTypeOf<string | null>();
    expectTypeOf<Grant['scope']>().toEqualTypeOf<Scope>();
    expectTypeOf<Scope['max_rows_per_query']>().toEqualTypeOf<number>();
  });
  it('query verbs are a discriminated union', () => {
    expectTypeOf<Extract<QueryRequest, { verb: 'get' }>['id']>().toEqualTypeOf<string>();
    expectTypeOf<Extract<QueryRequest, { verb: 'search' }>['query']>().toEqualTypeOf<string>();
  });
  it('request input vs parsed output', () => {
    expectTypeOf<AddPeerRequest['caPin']>().toEqualTypeOf<string>();
    expectTypeOf<AddPeerRequestParsed['name']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<NonNullable<SeedFile['resources']>>().toHaveProperty('api_keys');
  });
});
