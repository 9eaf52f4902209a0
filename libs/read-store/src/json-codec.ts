import { InvalidQueryError } from './errors.js';

/*
 * Documents hold JSON values and Dates only (the dialect rejects everything else), and field names
 * never start with `$`, so `{ "$date": "<ISO>" }` is an unambiguous encoding for a Date. Used by
 * snapshot files and pagination cursors.
 */

/** JSON text of a document value, Dates as `{ "$date": ISO }`. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { $date: raw.toISOString() } : v;
  });
}

/** Inverse of {@link encodeValue}. */
export function decodeValue(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === '$date' && typeof (v as { $date: unknown }).$date === 'string') {
        const d = new Date((v as { $date: string }).$date);
        if (Number.isNaN(d.getTime())) throw new InvalidQueryError('invalid $date in encoded value');
        return d;
      }
    }
    return v;
  });
}
