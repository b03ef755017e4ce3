import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new admin token: 32 random bytes, base64url (43 characters). Shown once, stored hashed. */
export function generateAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/** SHA-256 of a token, hex: the only form a token is stored in. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface AdminTokenRecord {
  name: string;
  tokenHash: string;
}

/**
 * Verifies bearer tokens against the live admin tokens, in constant time: the presented
 * token's hash is compared with every known hash with `timingSafeEqual`, with no early exit,
 * so neither the position nor the prefix of a match shows in the timing.
 */
export class AdminTokenVerifier {
  private records: Array<{ name: string; hash: Buffer }> = [];
  private readsStarted = 0;
  private readApplied = 0;

  /** Replace the known tokens (at start and after create/revoke). */
  load(records: AdminTokenRecord[]): void {
    this.readApplied = ++this.readsStarted;
    this.records = records.map((r) => ({ name: r.name, hash: Buffer.from(r.tokenHash, 'hex') }));
  }

  /**
   * Replace the known tokens with what `read` returns — unless a reload that started later has
   * already been applied: reads are numbered, so a slow, stale read never overwrites a newer one.
   */
  async reload(read: () => Promise<AdminTokenRecord[]>): Promise<void> {
    const seq = ++this.readsStarted;
    const records = await read();
    if (seq <= this.readApplied) return;
    this.readApplied = seq;
    this.records = records.map((r) => ({ name: r.name, hash: Buffer.from(r.tokenHash, 'hex') }));
  }

  /** The token's name when the `Authorization` header carries a live admin token, else null. */
  verify(authorization: string | undefined): string | null {
    if (authorization === undefined) return null;
    const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/.exec(authorization.trim());
    if (!match?.[1]) return null;
    const presented = createHash('sha256').update(match[1], 'utf8').digest();
    let found: string | null = null;
    for (const record of this.records) {
      if (timingSafeEqual(record.hash, presented) && found === null) found = record.name;
    }
    return found;
  }
}
