// Writes the gateway's public schema (SDL) to gateway/console/schema.graphql: the console's typed
// operations are generated against it, so a field the gateway drops fails the console's build.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { gatewaySchemaSdl } = require('@patchbay/gateway');
writeFileSync(new URL('../schema.graphql', import.meta.url), gatewaySchemaSdl());
