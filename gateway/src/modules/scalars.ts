import { GraphQLScalarType, Kind } from 'graphql';
import { ValidationError } from '@patchbay/contracts';

const parseDateTime = (v: unknown): Date => {
  if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) || Number.isNaN(Date.parse(v))) {
    throw new ValidationError('DateTime must be an ISO 8601 date-time with offset, e.g. 2026-01-31T12:00:00Z', { value: String(v) });
  }
  return new Date(v);
};

/** Shared scalars: `DateTime` (ISO 8601 with offset) and `JSON` (event data, command results). */
export const scalarTypeDefs = /* GraphQL */ `
  "ISO 8601 date-time with offset."
  scalar DateTime
  "Any JSON value."
  scalar JSON
`;

export const scalarResolvers = {
  DateTime: new GraphQLScalarType({
    name: 'DateTime',
    serialize: (v) => (v instanceof Date ? v.toISOString() : String(v)),
    parseValue: parseDateTime,
    parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
  }),
  JSON: new GraphQLScalarType({
    name: 'JSON',
    serialize: (v) => v,
    parseValue: (v) => v,
    parseLiteral: function literal(ast): unknown {
      switch (ast.kind) {
        case Kind.STRING:
        case Kind.BOOLEAN:
          return ast.value;
        case Kind.INT:
        case Kind.FLOAT:
          return Number(ast.value);
        case Kind.OBJECT:
          return Object.fromEntries(ast.fields.map((f) => [f.name.value, literal(f.value)]));
        case Kind.LIST:
          return ast.values.map((v) => literal(v));
        default:
          return null;
      }
    },
  }),
};
