import { readFile } from 'node:fs/promises';
import { SecretUnavailableError } from './errors.js';

/**
 * Turns a `keyRef` into private key material. Implementations must not put the material in errors
 * or logs; failures are `SecretUnavailableError`s naming the reference only.
 */
export interface SecretResolver {
  resolve(keyRef: string): Promise<string | Buffer>;
}

/**
 * The references every deployment has: `file:<path>` (a key file readable by the controller) and
 * `env:<VAR>` (a key in an environment variable, as container secrets often arrive). Other schemes
 * (a vault, a KMS) are other `SecretResolver`s.
 */
export class BuiltinSecretResolver implements SecretResolver {
  /** Key files read in the last `fileCacheMs` (a cycle opens thousands of connections with the same key). */
  private readonly files = new Map<string, { at: number; data: Promise<Buffer> }>();

  /**
   * `fileCacheMs`: how long a key file's content is reused before it is read again (a replaced key
   * is used from then on). 0 reads the file for every connection.
   */
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly fileCacheMs = 5_000,
  ) {}

  private readKeyFile(path: string): Promise<Buffer> {
    const now = Date.now();
    const cached = this.files.get(path);
    if (cached && now - cached.at < this.fileCacheMs) return cached.data;
    const data = readFile(path);
    if (this.fileCacheMs > 0) {
      this.files.set(path, { at: now, data });
      // A failed read is not remembered: the next connection tries again.
      data.catch(() => {
        if (this.files.get(path)?.data === data) this.files.delete(path);
      });
    }
    return data;
  }

  /** @throws SecretUnavailableError for an unknown scheme, a missing file or variable, or an empty secret. */
  async resolve(keyRef: string): Promise<string | Buffer> {
    const colon = keyRef.indexOf(':');
    const scheme = colon > 0 ? keyRef.slice(0, colon) : '';
    const locator = keyRef.slice(colon + 1);
    if (scheme === 'file') {
      if (locator.length === 0) throw new SecretUnavailableError(keyRef, 'file: needs a path');
      let data: Buffer;
      try {
        data = await this.readKeyFile(locator);
      } catch (e) {
        // Only the errno code: the message is safe too, but codes are what operators act on.
        throw new SecretUnavailableError(keyRef, `cannot read the key file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (data.length === 0) throw new SecretUnavailableError(keyRef, 'the key file is empty');
      return data;
    }
    if (scheme === 'env') {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(locator)) throw new SecretUnavailableError(keyRef, 'env: needs a variable name');
      const value = this.env[locator];
      if (value === undefined || value.length === 0) throw new SecretUnavailableError(keyRef, `variable ${locator} is not set`);
      return value;
    }
    throw new SecretUnavailableError(keyRef, `unknown key reference scheme ${JSON.stringify(scheme)} (built in: file:, env:)`);
  }
}
