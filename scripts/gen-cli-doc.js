// Writes docs/cli.md from the `mosaic` command tree (run after `pnpm build`: `pnpm docs:cli`).
// packages/cli/src/docs.test.ts fails when the page is stale.
import { writeFileSync } from 'node:fs';
import { docProgram, renderCliDoc } from '../packages/cli/dist/docs.js';

writeFileSync(new URL('../docs/cli.md', import.meta.url), renderCliDoc(await docProgram()));
process.stdout.write('wrote docs/cli.md\n');
