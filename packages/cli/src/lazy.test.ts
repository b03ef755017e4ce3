import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { expandAll, expandFor, isLazy, lazyCommand } from './lazy.js';

/** A tree of lazy nouns and verbs that records what was loaded. */
function tree() {
  const loaded: string[] = [];
  const verb = (name: string) =>
    lazyCommand(name, name, () => {
      loaded.push(name);
      return Promise.resolve(new Command(name).option('--peer <name>').action(() => undefined));
    });
  const noun = (name: string, verbs: string[]) =>
    lazyCommand(name, name, () => {
      loaded.push(name);
      const cmd = new Command(name);
      for (const v of verbs) cmd.addCommand(verb(`${name}.${v}`.split('.').pop()!));
      return Promise.resolve(cmd);
    });
  const root = new Command('mosaic').option('--data-dir <dir>').exitOverride();
  root.addCommand(noun('grant', ['list', 'edit']));
  root.addCommand(noun('peer', ['add']));
  return { root, loaded };
}

describe('lazy commands', () => {
  it('load only along the path the arguments name, skipping option values', async () => {
    const { root, loaded } = tree();
    await expandFor(root, ['--data-dir', 'peer', 'grant', 'list', '--peer', 'edit']);
    expect(loaded).toEqual(['grant', 'list']);
    const grant = root.commands.find((c) => c.name() === 'grant')!;
    expect(isLazy(grant)).toBe(false);
    expect(grant.parent).toBe(root);
    expect(isLazy(grant.commands.find((c) => c.name() === 'edit')!)).toBe(true);
    expect(isLazy(root.commands.find((c) => c.name() === 'peer')!)).toBe(true);
  });

  it('a noun alone loads its verbs (for its help); help loads everything', async () => {
    const a = tree();
    await expandFor(a.root, ['grant']);
    expect(a.loaded.sort()).toEqual(['edit', 'grant', 'list']);
    const b = tree();
    await expandFor(b.root, ['peer', '--help']);
    expect(b.loaded.sort()).toEqual(['add', 'edit', 'grant', 'list', 'peer']);
    const c = tree();
    await expandAll(c.root);
    expect(c.loaded).toHaveLength(5);
  });

  it('a loaded command inherits exit-through-main: a usage error throws instead of exiting', async () => {
    const { root } = tree();
    root.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    await expandFor(root, ['grant', 'list', '--frob']);
    await expect(root.parseAsync(['grant', 'list', '--frob'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.unknownOption' });
  });
});
