/**
 * Canonical JSON in the style of RFC 8785 (JCS): object keys sorted by UTF-16 code units, no
 * whitespace, numbers in ECMAScript shortest round-trip form (what `JSON.stringify` writes;
 * `-0` becomes `0`), strings escaped as `JSON.stringify` escapes them.
 *
 * It differs from `JSON.stringify` only where determinism or safety asks for it: non-finite
 * numbers, bigints, cycles and non-plain objects (Map, Set, class instances) throw instead of
 * turning into `null` or `{}`. Like `JSON.stringify`, object members whose value is
 * `undefined`, a function or a symbol are dropped, the same in an array become `null`, and
 * `toJSON()` (Date) is honoured. Deviation from RFC 8785: a lone surrogate is escaped
 * (`\ud800`) rather than rejected, so every string `JSON.parse` can produce has a canonical form.
 *
 * No zod here: safe to import anywhere.
 */

function fail(message: string): never {
  throw new TypeError(`canonical JSON: ${message}`);
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function write(value: unknown, out: string[], stack: Set<object>, inArray: boolean): boolean {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return true;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return true;
    case 'number':
      if (!Number.isFinite(value)) fail('non-finite numbers (NaN, Infinity) have no JSON form');
      out.push(JSON.stringify(value));
      return true;
    case 'bigint':
      return fail('bigint has no JSON form; convert it to a string or number first');
    case 'undefined':
    case 'function':
    case 'symbol':
      if (inArray) {
        out.push('null');
        return true;
      }
      return false;
    case 'object':
      break;
  }
  if (value === null) {
    out.push('null');
    return true;
  }
  const obj = value;
  if (stack.has(obj)) fail('cyclic structure');
  stack.add(obj);
  if (Array.isArray(obj)) {
    out.push('[');
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out.push(',');
      write(obj[i], out, stack, true);
    }
    out.push(']');
  } else {
    if (!isPlainObject(obj)) fail('only plain objects, arrays and primitives can be canonicalised');
    const record = obj as Record<string, unknown>;
    // Array.prototype.sort compares strings by UTF-16 code units, which is exactly JCS's order.
    const keys = Object.keys(record).sort();
    out.push('{');
    let first = true;
    for (const key of keys) {
      const mark = out.length;
      out.push(first ? '' : ',', JSON.stringify(key), ':');
      if (write(record[key], out, stack, false)) {
        first = false;
      } else {
        out.length = mark; // member dropped (undefined, function, symbol)
      }
    }
    out.push('}');
  }
  stack.delete(obj);
  return true;
}

/**
 * The canonical JSON text of `value` (sorted keys, no whitespace, shortest numbers).
 * Throws a `TypeError` for values without a JSON form (top-level `undefined`, NaN, Infinity,
 * bigint, cycles, Map/Set/class instances); the message never contains the value.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, null, 1e21] }) // '{"a":[true,null,1e+21],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  if (!write(value, out, new Set(), false)) fail('the top-level value has no JSON form');
  return out.join('');
}
