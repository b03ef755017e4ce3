#!/usr/bin/env node
// The `mosaic` entry point. `--version` is answered before anything else is imported,
// so that scripts probing the version pay only for Node's own start-up.
// Builtins through process.getBuiltinModule, not `import … from 'node:fs'`: an ES import of a
// builtin builds its ESM facade, which reads every export (see the hook below).
const { readFileSync } = process.getBuiltinModule('node:fs');

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
  // commander imports node:process, node:fs, node:util and node:child_process as ES modules.
  // Building a builtin's ESM facade reads every export — process.allowedNodeEnvironmentFlags,
  // fs.promises, … — a few milliseconds of every command's start-up for the four functions it
  // uses. Its imports of them get light modules handing over the same functions instead. (If a
  // commander update imports another name, every command fails at once, loudly: the CLI tests
  // run this binary.) Node without module.registerHooks (< 22.15) just skips this.
  const light: Record<string, string> = {
    'node:process': 'export default globalThis.process;',
    'node:fs': "export default process.getBuiltinModule('node:fs');",
    'node:util': "export const { stripVTControlCharacters } = process.getBuiltinModule('node:util');",
    'node:child_process': "export default { spawn: (...args) => process.getBuiltinModule('node:child_process').spawn(...args) };",
  };
  process.getBuiltinModule('node:module').registerHooks?.({
    resolve(specifier, context, next) {
      if (Object.hasOwn(light, specifier) && context.parentURL?.includes('/node_modules/commander/') === true) return { url: `mosaic-light:${specifier}`, shortCircuit: true };
      return next(specifier, context);
    },
    load(url, context, next) {
      if (url.startsWith('mosaic-light:')) return { format: 'module', source: light[url.slice('mosaic-light:'.length)], shortCircuit: true };
      return next(url, context);
    },
  });
  // `mosaic … | head`: a closed pipe ends the output, not the process with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const { main } = await import('./main.js');
  process.exitCode = await main(argv, version);
}
