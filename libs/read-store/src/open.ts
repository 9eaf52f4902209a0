import { EmbeddedReadStore } from './embedded.js';
import { MongoReadStore } from './mongo.js';
import type { ReadStore } from './port.js';

/** Where the embedded store keeps its snapshot when nothing else is configured. */
export const DEFAULT_READ_STORE_PATH = './.patchbay/read-store.jsonl';

/** Configuration read by {@link openReadStore}; usually `process.env`. */
export interface ReadStoreConfig {
  /** `mongodb://…` selects MongoDB (or FerretDB); unset selects the embedded store. */
  MONGODB_URL?: string;
  /** Database name for MongoDB (default: the URL's path, else `patchbay`). */
  MONGODB_DATABASE?: string;
  /** Embedded snapshot file (default `./.patchbay/read-store.jsonl`); `:memory:` for none. */
  READ_STORE_PATH?: string;
}

/**
 * Opens the configured read store: MongoDB when `MONGODB_URL` is set, else the embedded store with
 * its snapshot file.
 */
export async function openReadStore(config: ReadStoreConfig = process.env): Promise<ReadStore> {
  const url = config.MONGODB_URL?.trim();
  if (url) {
    const database = config.MONGODB_DATABASE?.trim() || undefined;
    // The URL's path names the database; multi-host URLs (`h1,h2`) are not WHATWG URLs, hence the regex.
    const fromUrl = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]+)/.exec(url)?.[1];
    return MongoReadStore.connect(url, { database: database ?? (fromUrl ? decodeURIComponent(fromUrl) : 'patchbay') });
  }
  const path = config.READ_STORE_PATH?.trim() || DEFAULT_READ_STORE_PATH;
  return EmbeddedReadStore.open(path === ':memory:' ? {} : { file: path });
}
