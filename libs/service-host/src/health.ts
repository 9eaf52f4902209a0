import { Controller, type Type } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { commandSubject, HEALTH_COMMAND, type HealthReply, type ServiceName } from '@patchbay/contracts';

const startedAt = Date.now();
/** Version reported in health replies (the workspace version). */
export const PATCHBAY_VERSION = '0.1.0';

/** A named readiness check a service contributes to its health reply. */
export type HealthCheck = () => { ok: boolean; detail?: string } | Promise<{ ok: boolean; detail?: string }>;

/** Builds a service's health reply from its checks: `degraded` when any check fails. */
export async function healthReply(service: string, checks: Record<string, HealthCheck>): Promise<HealthReply> {
  const results: HealthReply['checks'] = {};
  for (const [name, check] of Object.entries(checks)) {
    try {
      results[name] = await check();
    } catch (err) {
      results[name] = { ok: false, detail: (err as Error).message };
    }
  }
  return {
    service,
    status: Object.values(results).every((c) => c.ok) ? 'ok' : 'degraded',
    pid: process.pid,
    uptimeSeconds: (Date.now() - startedAt) / 1000,
    version: PATCHBAY_VERSION,
    checks: results,
  };
}

/**
 * A Nest controller answering `patchbay.cmd.<service>.system.health` over the bus. One class per
 * service, because the subject is fixed at decoration time.
 */
export function healthController(service: ServiceName, checks: () => Record<string, HealthCheck>): Type<unknown> {
  @Controller()
  class HealthController {
    @MessagePattern(commandSubject(service, HEALTH_COMMAND))
    async health(): Promise<HealthReply> {
      return healthReply(service, checks());
    }
  }
  Object.defineProperty(HealthController, 'name', { value: `${service[0]!.toUpperCase()}${service.slice(1)}HealthController` });
  return HealthController;
}
