/** The browser build never hashes events; anything that tries says so plainly. */
export function createHash(): never {
  throw new Error('node:crypto is not available in the web console');
}
