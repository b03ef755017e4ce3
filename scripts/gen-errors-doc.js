// Writes docs/errors.md from the error-code catalogue (run after `pnpm build`: `pnpm docs:errors`).
import { writeFileSync } from 'node:fs';
import { renderErrorCatalogue } from '../packages/federation-core/dist/index.js';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorCatalogue());
process.stdout.write('wrote docs/errors.md\n');
