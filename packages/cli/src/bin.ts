#!/usr/bin/env node
// The `mosaic` entry point. `--version` is answered before anything else is imported,
// so that scripts probing the version pay only for Node's own start-up.
import { readFileSync } from 'node:fs';

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const argv = process.argv.slice(2);

/** The oldest Node this runs on (package.json `engines`); older ones fail deep inside undici. */
const NODE_MIN: readonly [number, number] = [22, 19];
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  process.stdout.write(`${version}\n`);
} else if (major < NODE_MIN[0] || (major === NODE_MIN[0] && minor < NODE_MIN[1])) {
  process.stderr.write(
    `error: mosaic needs Node.js ${NODE_MIN.join('.')} or newer; this is ${process.versions.node}\n` +
      'hint: install Node 24 LTS, or in a checkout run `. scripts/bootstrap.sh` to put it on your PATH\n',
  );
  process.exitCode = 1;
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
