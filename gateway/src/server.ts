import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { healthResolvers, healthTypeDefs, type HealthModuleOptions } from './schema/health.js';

export interface GatewayServerOptions extends HealthModuleOptions {
  host?: string;
  port?: number;
}

export interface GatewayServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the GraphQL endpoint (graphql-yoga on node:http) at `/graphql`. */
export async function startGatewayServer(options: GatewayServerOptions): Promise<GatewayServer> {
  const yoga = createYoga({
    schema: createSchema({ typeDefs: [healthTypeDefs], resolvers: [healthResolvers(options)] }),
    graphqlEndpoint: '/graphql',
    logging: false,
    maskedErrors: true,
  });
  const server: Server = createServer(yoga);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4000, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}/graphql`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
