export * from './free-port.js';
export * from './nats-server.js';
export * from './otlp-receiver.js';
export * from './sse.js';
