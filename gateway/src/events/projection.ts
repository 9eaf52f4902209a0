import {
  getNamedType,
  getNullableType,
  getOperationAST,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLSchema,
} from 'graphql';

/**
 * A subscription's results read straight off each event, without executing the operation per
 * event: for an operation that is one root field (registered in `payloads`, which turns the
 * event into the object the field resolves to) selecting only leaf fields of that object with no
 * arguments, directives, fragments or custom resolvers — what every subscriber of event streams
 * asks (`cycleProgress(cycleId) { eventId type stream … data }`). Each value goes through its
 * scalar's own `serialize`, keys come in the order selected (aliases kept), so the result is the
 * one execution would give. An event the projection cannot answer exactly (a non-null field
 * without a value, a value its scalar refuses) returns undefined: the caller executes that one.
 */
export type Projection = (event: unknown) => ExecutionResult | undefined;

/** Root subscription fields whose result is a plain function of the event (the field's own `resolve`). */
export type SubscriptionPayloads = Readonly<Record<string, (event: never) => unknown>>;

interface LeafField {
  key: string;
  name: string;
  nonNull: boolean;
  serialize(value: unknown): unknown;
}

/** The projection of an operation, or undefined when it is not of the plain shape above. */
export function projectionOf(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, payloads: SubscriptionPayloads): Projection | undefined {
  const op = getOperationAST(document, operationName);
  if (!op || op.operation !== 'subscription' || op.directives?.length || op.selectionSet.selections.length !== 1) return undefined;
  const root = op.selectionSet.selections[0]!;
  if (root.kind !== Kind.FIELD || root.directives?.length || !root.selectionSet) return undefined;
  const toObject = Object.prototype.hasOwnProperty.call(payloads, root.name.value) ? payloads[root.name.value] : undefined;
  const rootDef = schema.getSubscriptionType()?.getFields()[root.name.value];
  if (!toObject || !rootDef) return undefined;
  const objectType = getNullableType(rootDef.type);
  if (!isObjectType(objectType)) return undefined;
  const fields: LeafField[] = [];
  for (const sel of root.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD || sel.directives?.length || sel.arguments?.length || sel.selectionSet) return undefined;
    const def = objectType.getFields()[sel.name.value];
    if (!def || def.resolve || def.args.length || isListType(getNullableType(def.type))) return undefined;
    const leaf = getNamedType(def.type);
    if (!isLeafType(leaf)) return undefined;
    fields.push({ key: sel.alias?.value ?? sel.name.value, name: sel.name.value, nonNull: isNonNullType(def.type), serialize: (v) => leaf.serialize(v) });
  }
  // The same key twice is merged by execution: leave such operations to it.
  if (new Set(fields.map((f) => f.key)).size !== fields.length) return undefined;
  const rootKey = root.alias?.value ?? root.name.value;
  return (event) => {
    let source: unknown;
    try {
      source = (toObject as (e: unknown) => unknown)(event);
    } catch {
      return undefined;
    }
    if (source === null || typeof source !== 'object') return undefined;
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      const value = (source as Record<string, unknown>)[f.name];
      if (typeof value === 'function') return undefined;
      if (value === undefined || value === null) {
        if (f.nonNull) return undefined;
        out[f.key] = null;
        continue;
      }
      let serialized: unknown;
      try {
        serialized = f.serialize(value);
      } catch {
        return undefined;
      }
      if (serialized === undefined || serialized === null) return undefined;
      out[f.key] = serialized;
    }
    return { data: { [rootKey]: out } };
  };
}
