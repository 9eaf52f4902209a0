import type { HealthReply } from '@patchbay/contracts';

/** Asks one service for its health over the bus; rejects when it does not answer in time. */
export type HealthProbe = (service: string) => Promise<HealthReply>;

export interface HealthModuleOptions {
  services: readonly string[];
  probe: HealthProbe;
  /** The gateway's own checks (bus connected, store reachable). */
  selfCheck: () => HealthReply;
}

/** Resolvers of the health module: every service is asked in parallel; none can hang the query. */
export function healthResolvers(options: HealthModuleOptions) {
  return {
    Query: {
      health: async () => {
        const replies = await Promise.all(
          options.services.map(async (service) => {
            try {
              const r = await options.probe(service);
              return { ...r, checks: Object.entries(r.checks).map(([name, c]) => ({ name, ...c })), error: null };
            } catch (err) {
              const code = (err as { code?: string }).code ?? 'UNKNOWN';
              return { service, status: 'unreachable', checks: [], error: code };
            }
          }),
        );
        const self = options.selfCheck();
        const services = [{ ...self, checks: Object.entries(self.checks).map(([name, c]) => ({ name, ...c })), error: null }, ...replies];
        const status = services.every((s) => s.status === 'ok') ? 'ok' : services.some((s) => s.status === 'unreachable') ? 'unreachable' : 'degraded';
        return { status, services };
      },
    },
  };
}
