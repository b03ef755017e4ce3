#!/usr/bin/env node
// The `mosaic` entry point. `--version` is answered before anything else is imported,
// so that scripts probing the version pay only for Node's own start-up.
import { readFileSync } from 'node:fs';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const argv = process.argv.slice(2);

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${version}\n`);
} else {
  const { main } = await import('./main.js');
  process.exitCode = await main(argv, version);
}
