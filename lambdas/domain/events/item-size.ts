/**
 * DynamoDB item and key sizes, computed the way DynamoDB bills and limits them, so handlers can
 * refuse what AWS would refuse (dynalite enforces the 400 KB item limit but not the 2,048-byte
 * partition-key limit) and benchmarks can count write units. Pure.
 *
 * Rules (AWS "Item sizes and formats"): attribute name bytes plus value bytes; strings are their
 * UTF-8 length; numbers 1 byte plus 1 per two significant digits (+1 if negative); booleans and
 * null 1; lists and maps 3 bytes plus 1 per element plus the elements.
 */

/** DynamoDB's item size limit. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** DynamoDB's partition-key and sort-key limits. */
export const MAX_PARTITION_KEY_BYTES = 2048;
export const MAX_SORT_KEY_BYTES = 1024;

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Bytes of a number as DynamoDB stores it (up to 38 significant digits). */
export function numberBytes(n: number): number {
  if (n === 0) return 1;
  const digits = Math.abs(n).toExponential().replace(/e.*$/, '').replace('.', '').replace(/0+$/, '');
  return 1 + Math.ceil(digits.length / 2) + (n < 0 ? 1 : 0);
}

/** Bytes of one attribute value (a document-client value: string, number, boolean, null, array, object). */
export function valueBytes(value: unknown): number {
  if (value === null) return 1;
  switch (typeof value) {
    case 'string':
      return utf8(value);
    case 'number':
      return numberBytes(value);
    case 'boolean':
      return 1;
    case 'object': {
      if (value instanceof Uint8Array) return value.byteLength;
      if (Array.isArray(value)) return 3 + value.reduce<number>((sum, v) => sum + 1 + valueBytes(v), 0);
      return 3 + Object.entries(value as Record<string, unknown>).reduce((sum, [k, v]) => (v === undefined ? sum : sum + 1 + utf8(k) + valueBytes(v)), 0);
    }
    default:
      return 0; // undefined values are dropped by the document client
  }
}

/** Bytes of a whole item: every attribute's name and value. */
export function itemBytes(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) if (value !== undefined) size += utf8(name) + valueBytes(value);
  return size;
}

/** Write units one write of an item this size costs (1 per started KB). */
export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

/**
 * Why an item cannot be stored, or undefined if it can: the whole item under 400 KB, the
 * partition key under 2,048 bytes and the sort key under 1,024.
 */
export function itemProblem(item: Record<string, unknown> & { pk: string; sk: string }): string | undefined {
  const pk = utf8(item.pk);
  if (pk > MAX_PARTITION_KEY_BYTES) return `its partition key is ${pk} bytes, over DynamoDB's ${MAX_PARTITION_KEY_BYTES}`;
  const sk = utf8(item.sk);
  if (sk > MAX_SORT_KEY_BYTES) return `its sort key is ${sk} bytes, over DynamoDB's ${MAX_SORT_KEY_BYTES}`;
  const size = itemBytes(item);
  if (size >= MAX_ITEM_BYTES) return `it would be stored as ${size} bytes, over DynamoDB's ${MAX_ITEM_BYTES}-byte item limit`;
  return undefined;
}
