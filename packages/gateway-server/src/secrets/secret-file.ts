/**
 * The master secret file: read with ssh's strictness (a regular file, ours, no group/other
 * bits, in a directory nobody else can write), created exactly once.
 *
 * Creation is "write a temp file, then link it into place": `link` fails with EEXIST when the
 * name is taken, so two gateways starting at once never end up with two different secrets
 * (`rename` would let the second silently replace the first one's secret after the first had
 * already sealed with it), and a crash mid-write never leaves a half-written secret under the
 * real name.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SecretFileInsecure, SecretFileUnreadable } from './errors.js';

/** Mode of the secret file. */
export const SECRET_FILE_MODE = 0o600;
/** Mode of the directories created for it. */
export const SECRET_DIR_MODE = 0o700;
const MAX_SECRET_FILE_BYTES = 4096;

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

const currentUid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);

/** Refuse a directory that others may write to (they could swap the file), or that is not ours. */
async function checkDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const info = await stat(dir);
  if ((info.mode & 0o022) !== 0) {
    throw new SecretFileInsecure(dir, `its directory is writable by group or others (mode ${octal(info.mode)})`);
  }
  const uid = currentUid();
  if (uid !== undefined && info.uid !== uid && info.uid !== 0) {
    throw new SecretFileInsecure(dir, `its directory belongs to uid ${info.uid}, not to the gateway user (uid ${uid})`);
  }
}

/**
 * Read the secret file, or undefined when it does not exist.
 * @throws SECRET_FILE_INSECURE (group/other bits, wrong owner, writable directory),
 *   SECRET_FILE_UNREADABLE (not a regular file, too large, I/O error)
 */
export async function readSecretFile(path: string): Promise<string | undefined> {
  let handle;
  try {
    // O_NOFOLLOW: the secret is a file we made, never a symlink someone pointed elsewhere.
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    if (errno(err) === 'ELOOP') throw new SecretFileUnreadable(path, 'it is a symbolic link', { cause: err });
    throw new SecretFileUnreadable(path, errno(err) ?? 'open failed', { cause: err });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new SecretFileUnreadable(path, 'it is not a regular file');
    if (process.platform !== 'win32') {
      if ((info.mode & 0o077) !== 0) {
        throw new SecretFileInsecure(path, `its permissions ${octal(info.mode)} give access to group or others; only 0600 is accepted`);
      }
      const uid = currentUid();
      if (uid !== undefined && info.uid !== uid) {
        throw new SecretFileInsecure(path, `it belongs to uid ${info.uid}, not to the gateway user (uid ${uid})`);
      }
    }
    await checkDirectory(dirname(path));
    if (info.size > MAX_SECRET_FILE_BYTES) throw new SecretFileUnreadable(path, `it is ${info.size} bytes, larger than a master secret`);
    const buffer = Buffer.alloc(MAX_SECRET_FILE_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, MAX_SECRET_FILE_BYTES, 0);
    try {
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      buffer.fill(0);
    }
  } finally {
    await handle.close();
  }
}

/** Create the directories down to `dir` with mode 0700 (the ones that already exist are left as they are). */
async function ensureDirectory(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: SECRET_DIR_MODE });
  if (first === undefined) return;
  // mkdir's mode passes through the umask; set it exactly on every directory we created.
  for (let current = dir; ; current = dirname(current)) {
    await chmod(current, SECRET_DIR_MODE);
    if (current === first || dirname(current) === current) break;
  }
}

/**
 * Create the secret file holding `text` (mode 0600, directories 0700) unless it exists.
 * Returns the text now in the file: ours, or the one another process created first.
 */
export async function createSecretFileOnce(path: string, text: string): Promise<string> {
  const dir = dirname(path);
  await ensureDirectory(dir);
  await checkDirectory(dir);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', SECRET_FILE_MODE);
  try {
    try {
      await handle.chmod(SECRET_FILE_MODE);
      await handle.writeFile(`${text}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, path);
    } catch (err) {
      if (errno(err) === 'EEXIST') {
        const winner = await readSecretFile(path);
        if (winner !== undefined) return winner;
        throw new SecretFileUnreadable(path, 'it disappeared while being created', { cause: err });
      }
      // Filesystems without hard links: an exclusive create of the final name, same guarantee
      // against two writers, at the cost of a partial file if the machine dies mid-write.
      if (errno(err) !== 'EPERM' && errno(err) !== 'ENOTSUP' && errno(err) !== 'EOPNOTSUPP' && errno(err) !== 'ENOSYS') throw err;
      return await createExclusive(path, text);
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dir);
  return text;
}

async function createExclusive(path: string, text: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'wx', SECRET_FILE_MODE);
  } catch (err) {
    if (errno(err) !== 'EEXIST') throw err;
    const winner = await readSecretFile(path);
    if (winner !== undefined) return winner;
    throw new SecretFileUnreadable(path, 'it disappeared while being created', { cause: err });
  }
  try {
    await handle.chmod(SECRET_FILE_MODE);
    await handle.writeFile(`${text}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncDirectory(dirname(path));
  return text;
}

/** fsync a directory so the new name survives a power cut (not possible on Windows). */
async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

