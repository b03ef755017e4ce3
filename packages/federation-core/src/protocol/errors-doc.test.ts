import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, renderErrorCatalogue } from './codes.js';

describe('docs/errors.md', () => {
  it('is exactly the rendered catalogue (regenerate with `pnpm docs:errors`)', () => {
    const page = readFileSync(fileURLToPath(new URL('../../../../docs/errors.md', import.meta.url)), 'utf8');
    expect(page).toBe(renderErrorCatalogue());
    for (const code of Object.keys(ERROR_CODES)) expect(page).toContain(`\`${code}\``);
  });
});
