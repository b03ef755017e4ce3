/**
 * The data dir's own permissions (SECURITY.md, secrets at rest): a world-writable data dir
 * lets anyone on the machine swap the store or the admin token, so the gateway refuses it.
 */
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DataDirInvalid, DataDirWorldWritable } from './errors.js';

/** Mode of a data dir the gateway creates. */
export const DATA_DIR_MODE = 0o700;

/** What {@link checkDataDirPermissions} found. */
export interface DataDirCheck {
  /** The absolute path checked. */
  path: string;
  /** True when the directory did not exist and was created (mode 0700). */
  created: boolean;
  /** Its permission bits, e.g. 0o700. */
  mode: number;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/**
 * Create the data dir (0700, parents as needed) when absent; refuse it when it exists and is
 * world-writable or is not a directory.
 * @throws DATA_DIR_WORLD_WRITABLE, DATA_DIR_INVALID
 * @example
 * await checkDataDirPermissions(dataDir); // before opening the store
 */
export async function checkDataDirPermissions(dataDir: string): Promise<DataDirCheck> {
  const path = resolve(dataDir);
  let created = false;
  try {
    const first = await mkdir(path, { recursive: true, mode: DATA_DIR_MODE });
    if (first !== undefined) {
      created = true;
      // Exactly 0700 whatever the umask, on every directory made here.
      for (let current = path; ; current = dirname(current)) {
        await chmod(current, DATA_DIR_MODE);
        if (current === first || dirname(current) === current) break;
      }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new DataDirInvalid(path, 'it (or a parent) exists and is not a directory', { cause: err });
    throw new DataDirInvalid(path, `it cannot be created (${code ?? 'error'})`, { cause: err });
  }
  const info = await stat(path);
  if (!info.isDirectory()) throw new DataDirInvalid(path, 'it is not a directory');
  if (process.platform !== 'win32' && (info.mode & 0o002) !== 0) throw new DataDirWorldWritable(path, octal(info.mode));
  return { path, created, mode: info.mode & 0o777 };
}
