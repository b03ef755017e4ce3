/**
 * The built-in resource provider's SQL: the five resource tables read under a visibility
 * condition from federation-core's scope pipeline.
 *
 * "Denials look alike": the visibility condition is in the WHERE clause of the one query that
 * reads the row, so a row that does not exist and a row the subject may not see give the same
 * answer (`null`), and search scores are computed over visible rows only.
 *
 * Search is simple term matching **computed in SQL**: the query is split on white space into
 * at most {@link MAX_SEARCH_TERMS} distinct terms; a visible row scores 2 per term found in its
 * title and 1 per term found in its body (substring match, ASCII case-insensitive — `lower()`
 * on both engines, which folds ASCII letters only under the store's collations; other letters
 * match as written); rows scoring 0 are left out; best first, ties by id.
 */
import { sql, type SqlBool } from 'kysely';
import { isResource, MAX_ROWS_PER_QUERY_LIMIT, visibilityToSql, type Resource, type Visibility } from '@mosaic/federation-core';
import { escapeLike, placeholders, rawRows, visibilityCondition, type Executor, type RepoContext } from './sql.js';
import type { ResourceTable } from './schema.js';
import type { Timestamp } from './time.js';

/** A row of any resource. */
export interface ResourceRow {
  readonly id: string;
  readonly title: string;
  readonly body: string | null;
  /** Set for a personal row (then `teamId` is null). */
  readonly ownerUserId: string | null;
  /** Set for a team row (then `ownerUserId` is null). */
  readonly teamId: string | null;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
}

/** A row as the explainer needs it. */
export interface ExplainRow {
  readonly id: string;
  readonly title: string;
  readonly ownerUserId: string | null;
  readonly teamId: string | null;
}

/** One page of {@link ResourcesRepository.listVisible}. */
export interface VisiblePage {
  readonly items: ResourceRow[];
  /** The id to pass as `afterId` for the next page, or null when this page is the last. */
  readonly nextAfterId: string | null;
}

/** One search hit. */
export interface SearchHitRow {
  readonly row: ResourceRow;
  /** Higher is better; > 0. */
  readonly score: number;
}

/** The most terms a search uses; more are ignored. */
export const MAX_SEARCH_TERMS = 16;
/** Terms longer than this are cut. */
export const MAX_SEARCH_TERM_LENGTH = 100;

/** The columns of a {@link ResourceRow}, in the order {@link fromValues} reads them. */
const ROW_COLUMNS = '"id", "title", "body", "owner_user_id", "team_id", "created_at", "updated_at"';

/** A row read as an array of {@link ROW_COLUMNS}. */
const fromValues = (v: unknown[]): ResourceRow => ({
  id: v[0] as string,
  title: v[1] as string,
  body: v[2] as string | null,
  ownerUserId: v[3] as string | null,
  teamId: v[4] as string | null,
  createdAt: v[5] as Timestamp,
  updatedAt: v[6] as Timestamp,
});

const toRow = (r: ResourceTable): ResourceRow => ({
  id: r.id,
  title: r.title,
  body: r.body,
  ownerUserId: r.owner_user_id,
  teamId: r.team_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

function table(resource: Resource): 'tasks' {
  // The resource becomes an identifier: only the five known names may pass.
  if (!isResource(resource)) throw new TypeError('storage: unknown resource');
  return resource as 'tasks'; // the five tables share one shape
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ROWS_PER_QUERY_LIMIT) {
    throw new RangeError(`storage: limit must be a whole number from 1 to ${MAX_ROWS_PER_QUERY_LIMIT}`);
  }
}

/** ASCII-only lower case, matching SQL `lower()` under the store's collations. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** The distinct search terms of `query` (white-space separated, ASCII-lowercased, bounded). */
export function searchTerms(query: string): string[] {
  const terms = new Set<string>();
  for (const word of query.split(/\s+/u)) {
    if (word === '') continue;
    terms.add(asciiLower(word.slice(0, MAX_SEARCH_TERM_LENGTH)));
    if (terms.size >= MAX_SEARCH_TERMS) break;
  }
  return [...terms];
}

/** Reads of the five resource tables. */
export class ResourcesRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  /**
   * A page of the rows visible under `visibility`, by id. `afterId` continues after the last
   * id of the previous page (keyset paging: stable under inserts and deletes).
   */
  async listVisible(resource: Resource, visibility: Visibility, options: { limit: number; afterId?: string | null | undefined }): Promise<VisiblePage> {
    checkLimit(options.limit);
    // The `list` verb's query, run on every request: SQL text written here (the same query
    // Kysely built), so no query building and compiling per call.
    const ph = placeholders(this.#ctx.engine);
    const { sql: visible, params } = visibilityToSql(visibility, { placeholder: ph });
    const bound: unknown[] = [...params];
    let text = `select ${ROW_COLUMNS} from "${table(resource)}" where ${visible}`;
    if (options.afterId != null) {
      bound.push(options.afterId);
      text += ` and "id" > ${ph(bound.length)}`;
    }
    bound.push(options.limit + 1);
    text += ` order by "id" limit ${ph(bound.length)}`;
    let items: ResourceRow[];
    let more: boolean;
    const reader = this.#ctx.reader;
    if (reader !== undefined && !this.#db.isTransaction) {
      // SQLite outside a transaction: committed data on the reader, rows as arrays (one object per row, not two).
      const rows = reader.values(text, bound);
      more = rows.length > options.limit;
      items = (more ? rows.slice(0, options.limit) : rows).map(fromValues);
    } else {
      const rows = await rawRows<ResourceTable>(this.#db, this.#ctx, text, bound);
      more = rows.length > options.limit;
      items = (more ? rows.slice(0, options.limit) : rows).map(toRow);
    }
    return { items, nextAfterId: more ? (items.at(-1)?.id ?? null) : null };
  }

  /**
   * The row `id` if it exists **and** is visible, else null — one query with the visibility
   * condition in its WHERE clause, so the two cases cannot be told apart.
   */
  async getVisible(resource: Resource, id: string, visibility: Visibility): Promise<ResourceRow | null> {
    const row = await this.#db
      .selectFrom(table(resource))
      .selectAll()
      .where('id', '=', id)
      .where(visibilityCondition(visibility))
      .executeTakeFirst();
    return row === undefined ? null : toRow(row);
  }

  /**
   * Keyword search over the rows visible under `visibility` only, best first (see the module
   * comment for the scoring). A query without terms finds nothing.
   */
  async searchVisible(resource: Resource, visibility: Visibility, query: string, limit: number): Promise<SearchHitRow[]> {
    checkLimit(limit);
    const terms = searchTerms(query);
    if (terms.length === 0) return [];
    const parts = terms.map((term) => {
      const pattern = `%${escapeLike(term)}%`;
      return sql<number>`(case when lower(title) like ${pattern} escape '\\' then 2 else 0 end + case when lower(coalesce(body, '')) like ${pattern} escape '\\' then 1 else 0 end)`;
    });
    const score = sql<number>`(${sql.join(parts, sql` + `)})`;
    const rows = await this.#db
      .selectFrom((eb) => eb.selectFrom(table(resource)).selectAll().select(score.as('score')).where(visibilityCondition(visibility)).as('hits'))
      .selectAll()
      .where(sql<SqlBool>`score > 0`)
      .orderBy('score', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ row: toRow(r), score: Number(r.score) }));
  }

  /** Every row of `resource` with its owner/team, by id — candidates for the explainer. */
  async listForExplain(resource: Resource): Promise<ExplainRow[]> {
    const rows = await this.#db.selectFrom(table(resource)).select(['id', 'title', 'owner_user_id', 'team_id']).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, title: r.title, ownerUserId: r.owner_user_id, teamId: r.team_id }));
  }

  /** How many rows `resource` holds (all of them, for status and tests). */
  async count(resource: Resource): Promise<number> {
    const row = await this.#db.selectFrom(table(resource)).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
