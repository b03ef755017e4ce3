/**
 * Lazy commands: a stand-in in the tree (its name and description) whose module is imported
 * only when the command line reaches it. `mosaic federation grant list` then loads the grant
 * list command and what it needs — not the forty other commands, their renderers and prompts.
 * Start-up time is a feature of a CLI people run in loops and CI (issue 6: `grant list` within
 * 2.5 × `node -e 0`).
 *
 * Before parsing, {@link expandFor} swaps in the real commands along the path the arguments
 * name; help (any `-h`/`--help`/`help`) loads the whole tree, so help, completion and the docs
 * always describe the real commands ({@link expandAll}).
 */
import { Command } from 'commander';

const LOAD = Symbol('mosaic.lazyCommand');
type Loader = () => Promise<Command>;
type Lazy = Command & { [LOAD]?: Loader };

/**
 * A command whose module is imported when it is used.
 * @example
 * cmd.addCommand(lazyCommand('grant', 'the serving side…', async () => (await import('./grant/index.js')).grantCommand(version, run)));
 */
export function lazyCommand(name: string, description: string, load: Loader): Command {
  const stub = new Command(name).description(description).allowUnknownOption(true).allowExcessArguments(true) as Lazy;
  stub[LOAD] = load;
  return stub;
}

/** True while `cmd` is a stand-in that was not loaded yet. */
export function isLazy(cmd: Command): boolean {
  return (cmd as Lazy)[LOAD] !== undefined;
}

/** The settings `main` gives every command (exit through main, output through process streams), passed down to a loaded subtree. */
function inherit(parent: Command, cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput(parent.configureOutput());
  for (const sub of cmd.commands) inherit(cmd, sub);
}

async function materialize(parent: Command, cmd: Command): Promise<Command> {
  const load = (cmd as Lazy)[LOAD];
  if (load === undefined) return cmd;
  const real = await load();
  if (real.name() !== cmd.name()) throw new Error(`lazy command "${cmd.name()}" loaded a command named "${real.name()}"`);
  const commands = parent.commands as Command[];
  commands[commands.indexOf(cmd)] = real;
  (real as { parent: Command | null }).parent = parent;
  inherit(parent, real);
  return real;
}

/** Load every lazy command under `root` (help, completion, docs). */
export async function expandAll(root: Command): Promise<Command> {
  for (const sub of [...root.commands]) await expandAll(await materialize(root, sub));
  return root;
}

function takesValue(cmd: Command, flag: string): boolean {
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    const o = c.options.find((x) => x.long === flag || x.short === flag);
    if (o !== undefined) return o.required || o.optional;
  }
  return false;
}

/**
 * Load the commands `argv` names, in place: `federation grant list` loads `federation`, then
 * `grant`, then `list`. Where the words end at a command with subcommands (`mosaic federation
 * grant` alone, or an unknown word), its subcommands are loaded too, for the help or error
 * that follows. Any help request loads the whole tree.
 */
export async function expandFor(root: Command, argv: readonly string[]): Promise<void> {
  if (argv.some((a) => a === '-h' || a === '--help' || a === 'help')) {
    await expandAll(root);
    return;
  }
  let cmd = root;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') break;
    if (word.startsWith('-')) {
      if (!word.includes('=') && takesValue(cmd, word)) i++;
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub === undefined) break;
    cmd = await materialize(cmd, sub);
  }
  for (const sub of [...cmd.commands]) if (isLazy(sub)) await materialize(cmd, sub);
}
