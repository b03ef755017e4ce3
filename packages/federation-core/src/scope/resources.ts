/**
 * The resources a gateway knows. No zod: importable at runtime by the admin client and CLI.
 */

/** Every resource known today, in display order. */
export const RESOURCES = ['tasks', 'notes', 'memory', 'credentials', 'api_keys'] as const;

/** A known resource name (always lower case). */
export type Resource = (typeof RESOURCES)[number];

/** Resources whose grant needs an explicit `--allow-sensitive`: their rows are secrets. */
export const SENSITIVE_RESOURCES: readonly Resource[] = ['credentials', 'api_keys'];

const KNOWN: ReadonlySet<string> = new Set(RESOURCES);
const SENSITIVE: ReadonlySet<string> = new Set(SENSITIVE_RESOURCES);

/** True when `name` is exactly a known resource (case-sensitive: `Tasks` is not). */
export function isResource(name: unknown): name is Resource {
  return typeof name === 'string' && KNOWN.has(name);
}

/** True for `credentials` and `api_keys`. */
export function isSensitiveResource(name: Resource): boolean {
  return SENSITIVE.has(name);
}

/**
 * The known resource `name` was probably meant to be (`Tasks`, ` notes `, `api-keys`,
 * `task`), or `undefined` — for "did you mean" hints only, never to accept the input.
 */
export function suggestResource(name: string): Resource | undefined {
  const folded = name.trim().toLowerCase().replace(/-/g, '_');
  return RESOURCES.find((r) => r === folded || r === `${folded}s` || r === folded.replace(/s$/, ''));
}
