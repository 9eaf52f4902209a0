import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';

/** What JetStream answered to one publish. */
export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

/** A publish JetStream did not acknowledge: refused (`code` from the server), unanswered, or timed out. */
export class PubAckError extends Error {
  constructor(
    message: string,
    /** JetStream's error code (e.g. 10060 for an unexpected stream), `503` when no stream took the subject, `TIMEOUT`, `CLOSED`. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'PubAckError';
  }
}

const utf8 = new TextDecoder();

interface Pending {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
  deadline: number;
}

/**
 * JetStream publishes whose acknowledgements all come back on one subscription of the connection
 * (`<inbox>.*`, one token per publish), instead of a request per publish: nats.js's request makes,
 * after every answered request, an error object with a stack trace for the request it has just
 * resolved (a third of the relay's CPU per event). Same wire protocol as `jetstream.publish`: the
 * message carries the reply subject, JetStream answers it with `{stream, seq, duplicate}` or
 * `{error}`, and the server itself answers 503 when no stream takes the subject. Deadlines are
 * checked by one timer while anything is pending; publishes made while the connection is
 * reconnecting go out when it is back (nats.js buffers them, and subscribes the inbox again).
 */
export class PubAckInbox {
  private readonly prefix = `${createInbox()}.`;
  private readonly pending = new Map<string, Pending>();
  private readonly subscription: Subscription;
  private next = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly connection: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.subscription = connection.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? undefined : this.answer(msg)) });
    void connection.closed().then(() => this.close());
  }

  /** Publishes `data` on `subject` and resolves with JetStream's acknowledgement. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    if (this.closed) return Promise.reject(new PubAckError('the connection is closed', 'CLOSED'));
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: performance.now() + this.timeoutMs });
      try {
        this.connection.publish(subject, data, { reply: this.prefix + token, headers });
      } catch (err) {
        this.pending.delete(token);
        reject(err as Error);
        return;
      }
      this.sweeper ??= setInterval(() => this.sweep(), Math.min(100, Math.max(5, this.timeoutMs / 10))).unref();
    });
  }

  /** Publishes waiting for their acknowledgement. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Fails what is pending and stops listening (also done when the connection closes). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopSweeper();
    for (const p of this.pending.values()) p.reject(new PubAckError('the connection closed before JetStream acknowledged the publish', 'CLOSED'));
    this.pending.clear();
    if (!this.connection.isClosed()) this.subscription.unsubscribe();
  }

  private answer(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    // An answer after its deadline (the publish already failed and will be retried) is dropped.
    if (!p) return;
    this.pending.delete(token);
    if (msg.headers?.hasError) {
      const code = String(msg.headers.code);
      p.reject(new PubAckError(code === '503' ? 'no JetStream stream takes this subject (503 no responders)' : `JetStream answered ${code} ${msg.headers.description}`, code));
      return;
    }
    let v: { stream?: unknown; seq?: unknown; duplicate?: unknown; error?: { code?: number; err_code?: number; description?: string } };
    try {
      v = JSON.parse(utf8.decode(msg.data)) as typeof v;
    } catch {
      p.reject(new PubAckError('JetStream answered something that is not JSON', 'INVALID_ACK'));
      return;
    }
    if (v.error) p.reject(new PubAckError(`JetStream refused the publish: ${v.error.description ?? 'no description'} (${v.error.err_code ?? v.error.code})`, String(v.error.err_code ?? v.error.code)));
    else if (typeof v.stream !== 'string' || v.stream === '' || typeof v.seq !== 'number') p.reject(new PubAckError('JetStream answered without a stream and sequence', 'INVALID_ACK'));
    else p.resolve({ stream: v.stream, seq: v.seq, duplicate: v.duplicate === true });
    if (this.pending.size === 0) this.stopSweeper();
  }

  /** Fails the publishes past their deadline (the map is in publish order, so are the deadlines). */
  private sweep(): void {
    const now = performance.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.reject(new PubAckError(`JetStream did not acknowledge the publish within ${this.timeoutMs} ms`, 'TIMEOUT'));
    }
    if (this.pending.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
