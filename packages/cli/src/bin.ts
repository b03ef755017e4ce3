#!/usr/bin/env node
// The `mosaic` entry point. `--version` is answered before anything else is imported,
// so that scripts probing the version pay only for Node's own start-up.
import { readFileSync } from 'node:fs';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const argv = process.argv.slice(2);

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${version}\n`);
} else {
  // Cache V8's compiled code of the CLI's modules between runs (Node ≥ 22.1; tsc does the same):
  // every command starts a few milliseconds sooner. Best effort: no cache is no error.
  try {
    process.getBuiltinModule('node:module').enableCompileCache?.();
  } catch {
    // read-only or full temp dir: run without the cache
  }
  // `mosaic … | head`: a closed pipe ends the output, not the process with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const { main } = await import('./main.js');
  process.exitCode = await main(argv, version);
}
