import { createSourceEventStream, execute, print, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { toGraphQLError } from '../errors.js';
import { errorsJson, resultJson, ResultText } from './result-json.js';
import { SubscriberQueue, SubscriberTooSlowError } from './fanout.js';
import { projectionOf, type SubscriptionPayloads } from './projection.js';

type SubscribeResult = AsyncIterable<ExecutionResult> | ExecutionResult;
type SubscribeFn = (args: ExecutionArgs) => SubscribeResult | Promise<SubscribeResult>;

/**
 * Where a transport takes a subscription's results directly (no iterator, no promise per result):
 * each result's JSON, made once for every subscriber of the same subscription.
 */
export interface SubscriptionSink {
  /** One result (`{"data":…}` or `{"errors":…}`), its text and bytes made once for all its subscribers. */
  next(result: ResultText): void;
  /** The subscription is over: normally, or with these errors (a JSON array). */
  end(errorsJson?: string): void;
  /** Results handed over and not yet taken by the peer; past the limit the subscription ends with SUBSCRIPTION_TOO_SLOW. */
  readonly backlog: number;
}

/** The context key under which a transport offers its sink for a subscription. */
export const SUBSCRIPTION_SINK = Symbol.for('patchbay.subscriptionSink');

const sinkOf = (context: unknown): SubscriptionSink | undefined => (context as Record<symbol, SubscriptionSink | undefined> | undefined)?.[SUBSCRIPTION_SINK];

/** Roles of the caller, as far as a subscription's context says (a result may one day depend on them). */
const rolesOf = (context: unknown): string => {
  const roles = (context as { principal?: { roles?: readonly string[] } } | undefined)?.principal?.roles;
  return roles ? [...roles].sort().join(',') : '';
};

/** A result as clients may see it: every error with a stable code and nothing internal. */
const masked = (r: ExecutionResult): ExecutionResult => (r.errors?.length ? { ...r, errors: r.errors.map((e) => toGraphQLError(e)) } : r);

/** The JSON array of the errors a too-slow subscriber gets. */
export const tooSlowErrorsJson = (backlog: number): string => errorsJson([toGraphQLError(new SubscriberTooSlowError(backlog))]);

/** An iterator with no results that finishes when `stop` is called (what a sink member's subscribe returns). */
class Membership implements AsyncIterableIterator<ExecutionResult> {
  private finish: ((r: IteratorResult<ExecutionResult>) => void) | undefined;
  private done = false;

  constructor(private readonly leave: () => void) {}

  stop(): void {
    this.done = true;
    this.finish?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.finish = resolve));
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.leave();
    this.stop();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}

/**
 * One running subscription shared by every subscriber that asked the same thing: its source (the
 * executor's event stream mapped through the selection) is executed once per event, each result
 * is serialised once, and goes to every member — as a result object into an iterator's queue, or
 * as the JSON text to a transport's sink. Members come and go; the last one to leave stops the source.
 */
class SharedSubscription {
  private readonly members = new Set<SubscriberQueue<ExecutionResult>>();
  private readonly sinks = new Map<SubscriptionSink, Membership>();
  private iterator: AsyncIterator<ExecutionResult> | undefined;
  private stopped = false;

  constructor(
    private readonly source: AsyncIterable<ExecutionResult>,
    private readonly maxBacklog: () => number,
    private readonly onEmpty: () => void,
  ) {}

  join(): AsyncIterableIterator<ExecutionResult> {
    const member: SubscriberQueue<ExecutionResult> = new SubscriberQueue<ExecutionResult>(this.maxBacklog(), () => {
      this.members.delete(member);
      this.leftOne();
    });
    this.members.add(member);
    this.start();
    return member;
  }

  attach(sink: SubscriptionSink): AsyncIterableIterator<ExecutionResult> {
    const membership = new Membership(() => {
      if (this.sinks.delete(sink)) this.leftOne();
    });
    this.sinks.set(sink, membership);
    this.start();
    return membership;
  }

  get size(): number {
    return this.members.size + this.sinks.size;
  }

  private start(): void {
    if (!this.iterator) void this.run();
  }

  private leftOne(): void {
    if (this.size === 0) this.stop();
  }

  private async run(): Promise<void> {
    const iterator = (this.iterator = this.source[Symbol.asyncIterator]());
    let ending: string | undefined;
    try {
      for (;;) {
        const r = await iterator.next();
        if (r.done || this.stopped) break;
        const result = masked(r.value);
        for (const m of this.members) m.push(result);
        if (this.sinks.size === 0) continue;
        const text = new ResultText(resultJson(result));
        const limit = this.maxBacklog();
        for (const [sink, membership] of this.sinks) {
          if (sink.backlog >= limit) {
            this.sinks.delete(sink);
            sink.end(tooSlowErrorsJson(limit));
            membership.stop();
            continue;
          }
          sink.next(text);
        }
        if (this.size === 0) break;
      }
    } catch (err) {
      // The source failed (e.g. it fell too far behind the events): every member gets that error.
      const failed: ExecutionResult = { errors: [toGraphQLError(err)] };
      for (const m of this.members) m.push(failed);
      ending = errorsJson(failed.errors!);
    } finally {
      this.stop();
      for (const m of [...this.members]) m.end();
      for (const [sink, membership] of [...this.sinks]) {
        sink.end(ending);
        membership.stop();
      }
      this.sinks.clear();
    }
  }

  private stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onEmpty();
    void this.iterator?.return?.()?.catch(() => undefined);
  }
}

/**
 * Subscriptions shared by document: every subscriber whose operation has the same document,
 * operation name, variables and roles receives the same results, executed and serialised once per
 * event for all of them (with 100 subscribers on four distinct documents, 25 times less GraphQL
 * execution than one execution per subscriber). Authorisation and argument checks still run for
 * each subscriber (its own subscribe call runs first; its source is dropped once it has joined a
 * shared one). A transport that puts a {@link SubscriptionSink} in the context under
 * {@link SUBSCRIPTION_SINK} gets the results' JSON there; the iterator it gets back then only
 * says when the subscription ends (its `return()` leaves it).
 */
export class SharedSubscriptions {
  private readonly running = new Map<string, SharedSubscription>();
  private readonly printed = new WeakMap<DocumentNode, string>();

  /**
   * `maxBacklog`: results one member may fall behind by before its subscription ends with
   * SUBSCRIPTION_TOO_SLOW. `payloads`: root fields whose results may be read straight off each
   * event (see `projectionOf`) instead of executing the operation per event.
   */
  constructor(
    private readonly maxBacklog: () => number,
    private readonly payloads: SubscriptionPayloads = {},
  ) {}

  /** `subscribe`, sharing the results of equal operations. */
  wrap(subscribe: SubscribeFn): SubscribeFn {
    return async (args) => {
      const own = await subscribe(args);
      if (!isAsyncIterable(own)) return own;
      const key = this.keyOf(args);
      let shared = this.running.get(key);
      if (shared) void (own as AsyncIterableIterator<ExecutionResult>).return?.()?.catch(() => undefined);
      else {
        const projected = await this.projectedSource(args);
        if (projected) void (own as AsyncIterableIterator<ExecutionResult>).return?.()?.catch(() => undefined);
        const source = projected ?? own;
        const created: SharedSubscription = new SharedSubscription(source, this.maxBacklog, () => {
          if (this.running.get(key) === created) this.running.delete(key);
        });
        this.running.set(key, created);
        shared = created;
      }
      const sink = sinkOf(args.contextValue);
      return sink ? shared.attach(sink) : shared.join();
    };
  }

  /**
   * The operation's results as a projection of each event, when the operation has the plain shape
   * `projectionOf` reads (an event it cannot answer exactly is executed as usual); undefined
   * otherwise, or when the event stream does not start (the caller's own execution then stands).
   */
  private async projectedSource(args: ExecutionArgs): Promise<AsyncIterable<ExecutionResult> | undefined> {
    const project = projectionOf(args.schema, args.document, args.operationName, this.payloads);
    if (!project) return undefined;
    let events: unknown;
    try {
      events = await createSourceEventStream(args);
    } catch {
      return undefined;
    }
    if (!isAsyncIterable(events)) return undefined;
    const iterator = (events as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    const mapped: AsyncIterableIterator<ExecutionResult> = {
      next: async () => {
        const r = await iterator.next();
        if (r.done) return { value: undefined, done: true };
        const result = project(r.value) ?? (await execute({ ...args, rootValue: r.value }));
        return { value: result, done: false };
      },
      return: async () => {
        await iterator.return?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return mapped;
      },
    };
    return mapped;
  }

  /** Distinct subscriptions running now and their members. */
  get stats(): { shared: number; members: number } {
    let members = 0;
    for (const s of this.running.values()) members += s.size;
    return { shared: this.running.size, members };
  }

  private keyOf(args: ExecutionArgs): string {
    let text = this.printed.get(args.document);
    if (text === undefined) this.printed.set(args.document, (text = print(args.document)));
    return JSON.stringify([text, args.operationName ?? null, args.variableValues ?? null, rolesOf(args.contextValue)]);
  }
}

/** The envelop plugin that routes every subscription (SSE and graphql-ws alike) through `shared`. */
export function sharedSubscriptionsPlugin(shared: SharedSubscriptions): Plugin {
  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn(shared.wrap(subscribeFn as SubscribeFn) as never);
    },
  };
}
