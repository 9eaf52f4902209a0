import 'reflect-metadata';
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, Module, type INestApplicationContext, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { NatsServer } from '@patchbay/testing';
import { HEALTH_COMMAND, PatchbayError, commandSubject, healthReplySchema, type CommandEnvelope, type HealthReply, type RecordedEvent } from '@patchbay/contracts';
import { NatsBus } from '../bus.js';
import { InMemoryAppliedEventLedger } from '../applied-ledger.js';
import { eventually, newEvent, tempStore } from '../spec-fixtures.js';
import { JetStreamEventContext, NatsCommandContext } from './contexts.js';
import { PatchbayRpcExceptionFilter } from './exception-filter.js';
import { CommandClient, PatchbayBusModule } from './module.js';
import { NatsJetStreamTransport, durableNameFor } from './transport.js';

const started = Date.now();

@Controller()
class InventoryController {
  readonly events: { event: RecordedEvent; deliveryCount: number; subject: string }[] = [];
  failFirstDelivery = true;
  healthCalls = 0;

  @MessagePattern(commandSubject('inventory', HEALTH_COMMAND))
  health(@Payload() envelope: CommandEnvelope, @Ctx() ctx: NatsCommandContext): HealthReply {
    this.healthCalls++;
    return { service: 'inventory', status: 'ok', pid: process.pid, uptimeSeconds: (Date.now() - started) / 1000, version: '0.1.0', checks: { bus: { ok: true, detail: `${ctx.getSubject()} from ${envelope.actor}` } } };
  }

  @MessagePattern(commandSubject('inventory', 'endpoint.retire'))
  async retire(@Payload() envelope: CommandEnvelope<{ id: string }>): Promise<never> {
    throw new PatchbayError('ENDPOINT_NOT_FOUND', `no endpoint ${envelope.payload.id}`, { id: envelope.payload.id });
  }

  @EventPattern('patchbay.evt.endpoint.>', { maxDeliver: 3, backoff: [20] })
  async onEndpointEvent(@Payload() event: RecordedEvent, @Ctx() ctx: JetStreamEventContext): Promise<void> {
    const delivery = ctx.getDelivery();
    if (this.failFirstDelivery && delivery.deliveryCount === 1) throw new Error('not ready yet');
    this.events.push({ event, deliveryCount: delivery.deliveryCount, subject: ctx.getSubject() });
  }
}

@Module({ controllers: [InventoryController] })
class InventoryModule {}

describe('NatsJetStreamTransport in a Nest microservice', () => {
  let server: NatsServer;
  let fixture: ReturnType<typeof tempStore>;
  let service: INestMicroservice;
  let gateway: INestApplicationContext;
  const ledger = new InMemoryAppliedEventLedger();

  beforeEach(async () => {
    server = await NatsServer.start();
    fixture = tempStore();
    service = await NestFactory.createMicroservice(InventoryModule, { strategy: new NatsJetStreamTransport({ servers: server.url, serviceName: 'inventory', ledger }), logger: false });
    service.useGlobalFilters(new PatchbayRpcExceptionFilter());
    await service.listen();
    @Module({ imports: [PatchbayBusModule.forRoot({ url: server.url, serviceName: 'gateway' })] })
    class GatewayModule {}
    gateway = await NestFactory.createApplicationContext(GatewayModule, { logger: false });
  });
  afterEach(async () => {
    await gateway?.close();
    await service?.close();
    await server.stop();
    await fixture.dispose();
  });

  it('answers the health command through CommandClient, the Nest way', async () => {
    const client = gateway.get(CommandClient);
    const reply = await lastValueFrom(client.send(commandSubject('inventory', HEALTH_COMMAND), { commandId: 'h1', actor: 'gateway', payload: {} }));
    const health = healthReplySchema.parse(reply);
    assert.equal(health.service, 'inventory');
    assert.equal(health.checks['bus']!.detail, 'patchbay.cmd.inventory.system.health from gateway');
    const again = await client.request<HealthReply>(commandSubject('inventory', HEALTH_COMMAND), { commandId: 'h2', actor: 'gateway', payload: {} });
    assert.equal(again.status, 'ok');
  });

  it('shares commands between two replicas of the service (queue group = service name)', async () => {
    const replica = await NestFactory.createMicroservice(InventoryModule, { strategy: new NatsJetStreamTransport({ servers: server.url, serviceName: 'inventory' }), logger: false });
    await replica.listen();
    try {
      const client = gateway.get(CommandClient);
      const first = service.get(InventoryController);
      const second = replica.get(InventoryController);
      first.healthCalls = 0;
      second.healthCalls = 0;
      for (let i = 0; i < 40; i++) await client.request(commandSubject('inventory', HEALTH_COMMAND), { commandId: `h${i}`, actor: 'gateway', payload: {} });
      assert.equal(first.healthCalls + second.healthCalls, 40);
      assert.ok(first.healthCalls > 0 && second.healthCalls > 0, `both served: ${first.healthCalls}/${second.healthCalls}`);
    } finally {
      await replica.close();
    }
  });

  it('maps a handler PatchbayError to the caller with its code, and bad envelopes to VALIDATION_FAILED', async () => {
    const client = gateway.get(CommandClient);
    await assert.rejects(lastValueFrom(client.send(commandSubject('inventory', 'endpoint.retire'), { commandId: 'r1', actor: 'gateway', payload: { id: 'web9' } })), (err: unknown) => {
      assert.ok(err instanceof PatchbayError);
      assert.equal(err.code, 'ENDPOINT_NOT_FOUND');
      assert.deepEqual(err.details, { id: 'web9' });
      return true;
    });
    const raw = await lastValueFrom(client.send(commandSubject('inventory', HEALTH_COMMAND), { actor: 'x' })).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal((raw as PatchbayError).code, 'VALIDATION_FAILED');
    await assert.rejects(client.request(commandSubject('planner', HEALTH_COMMAND), { commandId: 'p', actor: 'gateway', payload: {} }), { code: 'SERVICE_UNAVAILABLE' });
  });

  it('consumes JetStream events with a durable consumer per service and pattern, retrying a failed delivery', async () => {
    const bus = gateway.get(NatsBus);
    await fixture.store.append('endpoint-web1', [newEvent('EndpointRegistered', { host: 'web1' }), newEvent('FactsGathered', { os: 'debian' })], 'no-stream');
    for (const e of await fixture.store.readAll()) await bus.publishEvent(e);
    const controller = service.get(InventoryController);
    await eventually('two events handled', () => controller.events.length === 2);
    assert.deepEqual(controller.events.map((e) => e.event.type), ['EndpointRegistered', 'FactsGathered']);
    assert.deepEqual(controller.events.map((e) => e.deliveryCount), [2, 2]);
    assert.equal(typeof controller.events[0]!.event.position, 'bigint');
    assert.equal(controller.events[0]!.subject, 'patchbay.evt.endpoint.EndpointRegistered');
    const durable = durableNameFor('inventory', 'patchbay.evt.endpoint.>');
    assert.equal(durable, 'inventory_patchbay_evt_endpoint_ALL');
    const info = await bus.manager.consumers.info('PATCHBAY_EVENTS', durable);
    assert.equal(info.config.durable_name, durable);
    assert.equal(await ledger.lastApplied(durable, 'endpoint-web1'), 1);
  });
});
