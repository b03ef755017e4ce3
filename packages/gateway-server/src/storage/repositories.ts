/**
 * Every repository, bound to one executor: the root `Kysely` (each call runs on its own) or
 * a transaction (every call runs in it). `storage.transaction(fn)` hands `fn` the same API
 * bound to the transaction, so callers compose repositories atomically.
 */
import { AdminTokensRepository } from './admin-tokens.js';
import { AuditRepository } from './audit.js';
import { CaStateRepository } from './ca-state.js';
import { IssuedCertsRepository } from './certs.js';
import { DirectoryRepository } from './directory.js';
import { GrantsRepository } from './grants.js';
import { MetaRepository } from './meta.js';
import { PeersRepository } from './peers.js';
import { ResourcesRepository } from './resources.js';
import type { Executor, RepoContext } from './sql.js';
import { EnrollmentTokensRepository } from './tokens.js';

/** The repository API, the same on the store and inside a transaction. */
export interface Repositories {
  /** Users, teams, memberships; `applySeed`. */
  readonly directory: DirectoryRepository;
  /** The five resource tables under a visibility condition. */
  readonly resources: ResourcesRepository;
  readonly grants: GrantsRepository;
  /** Enrollment tokens. */
  readonly tokens: EnrollmentTokensRepository;
  /** Issued certificates and revocation. */
  readonly certs: IssuedCertsRepository;
  readonly peers: PeersRepository;
  /** The embedded CA's one row and the CRL number. */
  readonly ca: CaStateRepository;
  readonly adminTokens: AdminTokensRepository;
  readonly audit: AuditRepository;
  readonly meta: MetaRepository;
}

/** Every repository bound to `db`. */
export function bindRepositories(db: Executor, ctx: RepoContext): Repositories {
  return {
    directory: new DirectoryRepository(db, ctx),
    resources: new ResourcesRepository(db, ctx),
    grants: new GrantsRepository(db, ctx),
    tokens: new EnrollmentTokensRepository(db, ctx),
    certs: new IssuedCertsRepository(db, ctx),
    peers: new PeersRepository(db, ctx),
    ca: new CaStateRepository(db, ctx),
    adminTokens: new AdminTokensRepository(db, ctx),
    audit: new AuditRepository(db, ctx),
    meta: new MetaRepository(db, ctx),
  };
}
