import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError, ValidationContext, ASTVisitor } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { codedError } from '../errors.js';
import type { GatewaySettings } from '../settings.js';

type Reject = (ctx: ValidationContext | null, err: GraphQLError) => void;

/**
 * The armor rules report through `onReject`: each limit gets its own stable code. Validation
 * rules report into the validation context; the token limit (a parser rule, no context) throws.
 */
const reject =
  (code: string): Reject =>
  (ctx, err) => {
    const coded = codedError(code, err.message.replace(/^Syntax Error: /, ''));
    if (ctx) ctx.reportError(coded);
    else throw coded;
  };

/** graphql-armor on yoga: depth, aliases, tokens, cost and directives, with codes instead of messages. */
export function armorPlugin(s: GatewaySettings): Plugin {
  const common = (code: string) => ({ onReject: [reject(code)], propagateOnRejection: false });
  return EnvelopArmorPlugin({
    maxDepth: { n: s.maxDepth, ignoreIntrospection: true, ...common('QUERY_TOO_DEEP') },
    maxAliases: { n: s.maxAliases, ...common('TOO_MANY_ALIASES') },
    maxTokens: { n: s.maxTokens, ...common('TOO_MANY_TOKENS') },
    costLimit: { maxCost: s.maxCost, ...common('QUERY_TOO_COSTLY') },
    maxDirectives: { n: s.maxDirectives, ...common('TOO_MANY_DIRECTIVES') },
    blockFieldSuggestion: { enabled: true },
  }) as Plugin;
}

/** Refuses `__schema` / `__type` when introspection is off (`INTROSPECTION_DISABLED`). */
export function introspectionRule(ctx: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') ctx.reportError(codedError('INTROSPECTION_DISABLED', 'introspection is disabled on this gateway (GATEWAY_INTROSPECTION)'));
    },
  };
}

/** Adds {@link introspectionRule} to validation when introspection is off. */
export function introspectionPlugin(enabled: boolean): Plugin {
  return {
    onValidate({ addValidationRule }) {
      if (!enabled) addValidationRule(introspectionRule);
    },
  };
}

/**
 * Refuses a batched request (a JSON array of operations) with `BATCHING_DISABLED` when batching is
 * off, and one over the limit with `BATCH_TOO_LARGE`.
 */
export function batchingPlugin(limit: number): Plugin {
  return {
    onRequestParse() {
      return {
        onRequestParseDone({ requestParserResult }) {
          if (!Array.isArray(requestParserResult)) return;
          if (limit === 0) throw createGraphQLError('batching is disabled on this gateway (GATEWAY_BATCHING_LIMIT)', { extensions: { code: 'BATCHING_DISABLED', http: { status: 400 } } });
          if (requestParserResult.length > limit) throw createGraphQLError(`at most ${limit} operations per batch (GATEWAY_BATCHING_LIMIT)`, { extensions: { code: 'BATCH_TOO_LARGE', http: { status: 413 } } });
        },
      };
    },
  };
}

/**
 * Token bucket per key (token id, or IP address without a token): `perMinute` requests of burst,
 * refilled continuously. In memory per replica: with N replicas behind a balancer a client gets
 * up to N times the rate.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly perMinute: number, private readonly maxKeys = 100_000) {}

  /** Takes one request; returns 0 when allowed, else the seconds to wait. */
  take(key: string, now = Date.now()): number {
    if (this.perMinute <= 0) return 0;
    const rate = this.perMinute / 60_000;
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
      this.buckets.set(key, b);
    }
    if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
    b.tokens -= 1;
    return 0;
  }
}
