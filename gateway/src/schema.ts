import { buildASTSchema, concatAST, parse, printSchema } from 'graphql';
import { scalarTypeDefs } from './modules/scalars.js';
import { healthTypeDefs } from './modules/health/typeDefs.js';
import { authTypeDefs } from './modules/auth/typeDefs.js';
import { cycleTypeDefs } from './modules/cycles/typeDefs.js';
import { auditTypeDefs } from './modules/audit/typeDefs.js';
import { eventTypeDefs } from './modules/events/typeDefs.js';
import { webhookTypeDefs } from './modules/webhooks/typeDefs.js';
import { readTypeDefs } from './modules/read/typeDefs.js';
import { commandTypeDefs } from './modules/commands/typeDefs.js';

/** Every module's type definitions, in the order the gateway assembles them. */
export const GATEWAY_TYPE_DEFS: readonly string[] = [scalarTypeDefs, healthTypeDefs, authTypeDefs, cycleTypeDefs, auditTypeDefs, eventTypeDefs, webhookTypeDefs, readTypeDefs, commandTypeDefs];

/** The public schema as SDL (what integrators and the web console's generated operations are typed against). */
export function gatewaySchemaSdl(): string {
  return printSchema(buildASTSchema(concatAST(GATEWAY_TYPE_DEFS.map((t) => parse(t)))));
}
