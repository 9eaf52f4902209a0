import { BaseRpcContext } from '@nestjs/microservices';
import type { MsgHdrs } from 'nats';
import type { CommandEnvelope } from '@patchbay/contracts';
import type { EventDelivery } from '../bus.js';

/** Context of a `@MessagePattern` handler: the subject, NATS headers and the full envelope. */
export class NatsCommandContext extends BaseRpcContext<[string, MsgHdrs | undefined, CommandEnvelope]> {
  getSubject(): string {
    return this.args[0];
  }
  getHeaders(): MsgHdrs | undefined {
    return this.args[1];
  }
  getEnvelope(): CommandEnvelope {
    return this.args[2];
  }
}

/** Context of an `@EventPattern` handler: subject and JetStream delivery details. */
export class JetStreamEventContext extends BaseRpcContext<[string, EventDelivery]> {
  getSubject(): string {
    return this.args[0];
  }
  getDelivery(): EventDelivery {
    return this.args[1];
  }
}
