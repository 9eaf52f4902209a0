import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * Forwards 127.0.0.1:<port> to a host's sshd in its network namespace, optionally adding a fixed
 * one-way delay to every chunk in both directions (used where the kernel has no tc netem).
 */
export class PortForwarder {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** One-way delay added to each direction, in milliseconds. */
  delayMs = 0;
  port = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly connectTimeoutMs = 5000,
  ) {}

  /** Listens on 127.0.0.1 (port 0 picks a free one) and resolves with the port. */
  async listen(port = 0): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this.port;
  }

  private accept(client: Socket): void {
    const upstream = connect({ host: this.target.host, port: this.target.port });
    this.sockets.add(client);
    this.sockets.add(upstream);
    upstream.setTimeout(this.connectTimeoutMs, () => upstream.destroy());
    upstream.once('connect', () => upstream.setTimeout(0));
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
    this.pipe(client, upstream);
    this.pipe(upstream, client);
  }

  private pipe(from: Socket, to: Socket): void {
    let releaseAt = 0;
    from.on('data', (chunk: Buffer) => {
      if (this.delayMs <= 0 && releaseAt <= Date.now()) {
        if (!to.write(chunk)) from.pause();
        return;
      }
      // Keep order: a chunk never leaves before the one ahead of it.
      releaseAt = Math.max(Date.now() + this.delayMs, releaseAt);
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, releaseAt - Date.now());
    });
    to.on('drain', () => from.resume());
    from.on('end', () => {
      const wait = Math.max(0, releaseAt - Date.now());
      setTimeout(() => to.end(), wait);
    });
  }

  /** Stops listening and drops every forwarded connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
