import { EventStoreUnavailableError } from './port.js';
import type { EventStore } from './port.js';

/** KurrentDB adapter (being written). */
export class KurrentEventStore {
  /** Connects with a connection string. */
  static connect(_url: string): EventStore {
    throw new EventStoreUnavailableError('KurrentDB adapter not available yet');
  }
}
