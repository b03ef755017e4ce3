/**
 * Where the master secret file lives, and whether a path is inside another once symlinks
 * are resolved (a config dir that is a symlink into the data dir is still inside it).
 */
import { realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { GatewayNameInvalid } from './errors.js';

/** File name of the master secret inside `$XDG_CONFIG_HOME/mosaic/<name>/`. */
export const SECRET_FILE_NAME = 'secret';

// One path segment, safe as a directory name and a keyring account on every platform.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Check a gateway name used as a directory name and keyring account.
 * @throws GATEWAY_NAME_INVALID
 */
export function validateGatewayName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new GatewayNameInvalid('it is empty');
  if (!NAME.test(name) || name.includes('..')) {
    throw new GatewayNameInvalid('it must start with a letter or digit and hold only letters, digits, ".", "-" and "_" (at most 64)');
  }
  return name;
}

/**
 * `$XDG_CONFIG_HOME/mosaic/<name>/secret`, with `~/.config` when XDG_CONFIG_HOME is unset or
 * relative (the XDG spec says relative values are invalid and must be ignored).
 */
export function secretFilePath(name: string, env: NodeJS.ProcessEnv): string {
  const xdg = env.XDG_CONFIG_HOME;
  const home = env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : homedir();
  const configHome = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(home, '.config');
  return join(resolve(configHome), 'mosaic', validateGatewayName(name), SECRET_FILE_NAME);
}

/**
 * The real path of `path`, resolving symlinks as far as the path exists and appending the
 * part that does not exist yet.
 */
export async function realpathLenient(path: string): Promise<string> {
  const absolute = resolve(path);
  const missing: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      const real = await realpath(current);
      return missing.length === 0 ? real : join(real, ...missing.reverse());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR') throw err;
      const parent = dirname(current);
      if (parent === current) return absolute;
      missing.push(basename(current));
      current = parent;
    }
  }
}

/** True when `child` is `parent` or below it, after resolving symlinks on both. */
export async function isInside(child: string, parent: string): Promise<boolean> {
  const [c, p] = await Promise.all([realpathLenient(child), realpathLenient(parent)]);
  const rel = relative(p, c);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}
