import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Server as SshServer, utils, type AuthContext, type Connection, type ParsedKey } from 'ssh2';
import { hostBehaviour, scenarioSchema, DEFAULT_SCENARIO, type Scenario } from '../scenario.js';
import { FdLimitTooLowError, PortRangeExhaustedError, SimulatedFleetConfigError } from './errors.js';
import { generateHostKeyPool, type HostKey } from './host-keys.js';
import { SimulatedHost } from './simulated-host.js';

/** Options of {@link SimulatedFleet.start}. */
export interface SimulatedFleetOptions {
  /** Number of endpoints (1 to 30,000; each takes one listening port). */
  endpoints: number;
  /** The shared fleet scenario (validated here); defaults to {@link DEFAULT_SCENARIO}. */
  scenario?: Scenario | unknown;
  /** Public key(s) accepted for every user, as `ssh-ed25519 AAAA...` lines or buffers. */
  clientPublicKey: string | Buffer | readonly (string | Buffer)[];
  /** Login names accepted; anything but `root` must prefix privileged commands with `sudo`. Default root and patchbay. */
  users?: readonly string[];
  /** Listen address. Default 127.0.0.1. */
  bindAddress?: string;
  /** First port tried; endpoints take the next free ports upwards. Default 20000 (below Linux's ephemeral range). */
  basePort?: number;
  /** Host keys shared round-robin across endpoints. Default 6 (4 ed25519, 2 ECDSA). */
  hostKeyPoolSize?: number;
  /** Latency of every command that is not apt-get (ms). Default 0. */
  commandLatencyMs?: number;
  /** Relative jitter applied to every latency (0.1 = ±10 %). Default 0.1. */
  latencyJitter?: number;
  /** Time between a reboot command's answer and the host dropping its connections (ms). Default 50. */
  shutdownDelayMs?: number;
  /** File descriptors to keep free beyond one per listener (for connections). Default 1024. */
  fdHeadroom?: number;
  /** Seed of the failure-injection and jitter generator. Default 1. */
  seed?: number;
}

/** Life-cycle state of a simulated endpoint as seen from the network. */
export type EndpointPhase = 'up' | 'shutting-down' | 'rebooting' | 'down';

/** Fleet-wide counters, for tests and figures. */
export interface SimulatedFleetCounters {
  connectionsAccepted: number;
  authFailures: number;
  commandsServed: number;
  reboots: number;
}

/** One simulated endpoint: a distinct 127.0.0.1 port with its own Debian state machine. */
export class SimulatedEndpoint {
  phase: EndpointPhase = 'up';
  /** Index into the host-key pool; only `new-host-key` reboots change it. */
  hostKeyIndex: number;
  port = 0;
  readonly sockets = new Set<Socket>();
  connectionsAccepted = 0;
  /** Bumped at every shutdown so answers of commands from the previous boot are dropped. */
  generation = 0;
  /** @internal */ listener: NetServer | undefined;

  constructor(
    /** `sim-00042`: stable id, also the host name. */
    readonly id: string,
    /** Address the endpoint listens on. */
    readonly host: string,
    /** The endpoint's Debian state: packages, services, boot id, /run. */
    readonly machine: SimulatedHost,
    private readonly keys: readonly HostKey[],
    hostKeyIndex: number,
  ) {
    this.hostKeyIndex = hostKeyIndex;
  }

  /** `SHA256:...` fingerprint of the host key presented right now. */
  get hostKeyFingerprint(): string {
    return this.keys[this.hostKeyIndex]!.fingerprint;
  }

  /** `ssh-ed25519 AAAA...` host public key presented right now (for known_hosts). */
  get hostPublicKey(): string {
    return this.keys[this.hostKeyIndex]!.publicKey;
  }

  get bootId(): string {
    return this.machine.bootId;
  }
}

/** What a client needs to reach an endpoint. */
export interface EndpointTarget {
  id: string;
  host: string;
  port: number;
  hostKeyFingerprint: string;
}

interface AllowedKey {
  type: string;
  blob: Buffer;
  parsed: ParsedKey;
}

/**
 * Thousands of simulated Debian 12 endpoints in one process, each an SSH server on its own
 * 127.0.0.1 port (ssh2's server side), answering Patchbay's commands from a per-endpoint state
 * machine with the scenario's latency, failures and reboot behaviour. A listener per endpoint
 * (rather than one port and many addresses) lets a rebooting endpoint refuse connections exactly
 * like a host whose sshd is down.
 */
export class SimulatedFleet {
  readonly counters: SimulatedFleetCounters = { connectionsAccepted: 0, authFailures: 0, commandsServed: 0, reboots: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly socketEndpoint = new WeakMap<Socket, SimulatedEndpoint>();
  private readonly sshServers: SshServer[];
  private stopped = false;
  private nextPort: number;
  private readonly random: () => number;

  private constructor(
    readonly endpoints: SimulatedEndpoint[],
    readonly scenario: Scenario,
    private readonly hostKeys: HostKey[],
    private readonly allowedKeys: AllowedKey[],
    private readonly users: ReadonlySet<string>,
    private readonly opts: Required<Pick<SimulatedFleetOptions, 'commandLatencyMs' | 'latencyJitter' | 'shutdownDelayMs' | 'basePort'>>,
    seed: number,
  ) {
    this.nextPort = opts.basePort;
    this.random = mulberry32(seed);
    this.sshServers = hostKeys.map((k) => new SshServer({ hostKeys: [k.privateKey] }, (client) => this.onClient(client)));
  }

  /**
   * Builds and starts the fleet; resolves once every endpoint listens.
   * @throws SimulatedFleetConfigError for bad options, FdLimitTooLowError when `ulimit -n` is too
   *   small for one listener per endpoint, PortRangeExhaustedError when ports run out.
   */
  static async start(options: SimulatedFleetOptions): Promise<SimulatedFleet> {
    const n = options.endpoints;
    if (!Number.isInteger(n) || n < 1 || n > 30_000)
      throw new SimulatedFleetConfigError(`endpoints must be an integer from 1 to 30000, got ${n}`, { endpoints: n });
    const parsed = scenarioSchema.safeParse(options.scenario ?? DEFAULT_SCENARIO);
    if (!parsed.success) throw new SimulatedFleetConfigError(`invalid scenario: ${parsed.error.message}`);
    const scenario = parsed.data;
    const required = n + (options.fdHeadroom ?? 1024);
    const limit = openFileLimit();
    if (limit !== undefined && limit < required) throw new FdLimitTooLowError(required, limit);
    const allowedKeys = parseClientKeys(options.clientPublicKey);
    const poolSize = options.hostKeyPoolSize ?? 6;
    if (!Number.isInteger(poolSize) || poolSize < 2)
      throw new SimulatedFleetConfigError('hostKeyPoolSize must be at least 2 (new-host-key mode needs a second key)');
    const basePort = options.basePort ?? 20_000;
    if (!Number.isInteger(basePort) || basePort < 1 || basePort > 65_535) throw new SimulatedFleetConfigError(`basePort out of range: ${basePort}`);
    const hostKeys = generateHostKeyPool(poolSize);
    const bindAddress = options.bindAddress ?? '127.0.0.1';
    const now = Date.now();
    const endpoints: SimulatedEndpoint[] = [];
    for (let i = 0; i < n; i++) {
      // Hosts have been up for a while (hours to days) when the fleet starts.
      const machine = new SimulatedHost(i, scenario, hostBehaviour(scenario, i), randomUUID(), now - 3_600_000 * (1 + (i % 240)));
      endpoints.push(new SimulatedEndpoint(machine.hostname, bindAddress, machine, hostKeys, i % poolSize));
    }
    const fleet = new SimulatedFleet(
      endpoints,
      scenario,
      hostKeys,
      allowedKeys,
      new Set(options.users ?? ['root', 'patchbay']),
      {
        commandLatencyMs: options.commandLatencyMs ?? 0,
        latencyJitter: options.latencyJitter ?? 0.1,
        shutdownDelayMs: options.shutdownDelayMs ?? 50,
        basePort,
      },
      options.seed ?? 1,
    );
    try {
      // Ports are handed out in index order so endpoint i is usually basePort + i.
      for (let i = 0; i < n; i += 256) await Promise.all(endpoints.slice(i, i + 256).map((ep) => fleet.listen(ep, true)));
    } catch (e) {
      await fleet.stop();
      throw e;
    }
    return fleet;
  }

  /** Connection details of every endpoint, for a driver or an inventory. */
  targets(): EndpointTarget[] {
    return this.endpoints.map((e) => ({ id: e.id, host: e.host, port: e.port, hostKeyFingerprint: e.hostKeyFingerprint }));
  }

  /** Every host key the fleet may present, as known_hosts-style public key lines. */
  hostPublicKeys(): string[] {
    return this.hostKeys.map((k) => k.publicKey);
  }

  /** Closes every listener and connection and cancels pending reboots. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(
      this.endpoints.map(async (ep) => {
        for (const s of ep.sockets) s.destroy();
        ep.sockets.clear();
        const l = ep.listener;
        ep.listener = undefined;
        if (l) await new Promise<void>((resolve) => l.close(() => resolve()));
      }),
    );
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private async listen(ep: SimulatedEndpoint, firstTime: boolean): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.onSocket(ep, socket));
    for (;;) {
      const port = firstTime ? this.nextPort++ : ep.port;
      if (port > 65_535) throw new PortRangeExhaustedError(this.opts.basePort, this.endpoints.length);
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: ep.host, port, backlog: 511 }, () => {
            server.off('error', reject);
            resolve();
          });
        });
        ep.port = port;
        ep.listener = server;
        server.on('error', () => undefined);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
        if (!firstTime) {
          // Someone took the port while the host was down; keep trying like a booting sshd would.
          await new Promise((r) => setTimeout(r, 100));
          if (this.stopped) return;
        }
      }
    }
  }

  private onSocket(ep: SimulatedEndpoint, socket: Socket): void {
    if (ep.phase !== 'up' && ep.phase !== 'shutting-down') {
      socket.destroy();
      return;
    }
    ep.sockets.add(socket);
    ep.connectionsAccepted++;
    this.counters.connectionsAccepted++;
    this.socketEndpoint.set(socket, ep);
    socket.once('close', () => ep.sockets.delete(socket));
    socket.on('error', () => undefined);
    this.sshServers[ep.hostKeyIndex]!.injectSocket(socket);
  }

  private onClient(client: Connection): void {
    // ssh2's server reports only the peer address; the same client port may be in use towards
    // several endpoints at once, so the accepted socket itself is the only reliable key.
    const socket = (client as unknown as { _sock?: Socket })._sock;
    const ep = socket && this.socketEndpoint.get(socket);
    client.on('error', () => undefined);
    if (!ep) {
      client.end();
      return;
    }
    let user = '';
    client.on('authentication', (ctx: AuthContext) => {
      if (!this.users.has(ctx.username) || ctx.method !== 'publickey') {
        if (ctx.method !== 'none') this.counters.authFailures++;
        ctx.reject(['publickey']);
        return;
      }
      // The blob names its own key type; the algorithm may be an RSA signature variant, so compare blobs only.
      const allowed = this.allowedKeys.find((k) => k.blob.equals(ctx.key.data));
      if (!allowed) {
        this.counters.authFailures++;
        ctx.reject(['publickey']);
        return;
      }
      // Without a signature the client only asks whether the key would do (RFC 4252 §7).
      if (ctx.signature && ctx.blob && allowed.parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
        this.counters.authFailures++;
        ctx.reject(['publickey']);
        return;
      }
      user = ctx.username;
      ctx.accept();
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        const env: Record<string, string> = {};
        session.on('env', (accept, _reject, e) => {
          env[e.key] = e.val;
          accept?.();
        });
        session.on('pty', (accept) => accept?.());
        session.on('window-change', (accept) => accept?.());
        session.on('shell', (_accept, reject) => reject?.());
        session.on('subsystem', (_accept, reject) => reject?.());
        session.on('exec', (accept, _reject, e) => this.exec(ep, user, env, e.command, accept));
      });
    });
  }

  private exec(ep: SimulatedEndpoint, user: string, env: Record<string, string>, command: string, accept: () => import('ssh2').ServerChannel): void {
    const channel = accept();
    channel.on('error', () => undefined);
    const generation = ep.generation;
    const result = ep.machine.run(command, { user, env, nowMs: Date.now(), random: this.random, commandLatencyMs: this.opts.commandLatencyMs });
    this.counters.commandsServed++;
    const answer = (): void => {
      if (ep.generation !== generation) return;
      if (!channel.destroyed) {
        if (result.stdout) channel.write(result.stdout);
        if (result.stderr) channel.stderr.write(result.stderr);
        channel.exit(result.exitCode);
        channel.end();
      }
      if (result.reboot) this.reboot(ep);
    };
    const j = this.opts.latencyJitter;
    const latency = result.latencyMs > 0 ? Math.max(0, Math.round(result.latencyMs * (1 + (this.random() * 2 - 1) * j))) : 0;
    if (latency > 0) this.later(latency, answer);
    else answer();
  }

  /**
   * The reboot command has answered; shortly after, sshd dies with its sessions, the port refuses
   * connections for the reboot delay, and the host comes back with a new boot id (or never).
   */
  private reboot(ep: SimulatedEndpoint): void {
    if (ep.phase !== 'up') return;
    ep.phase = 'shutting-down';
    this.later(this.opts.shutdownDelayMs, () => {
      ep.generation++;
      ep.phase = 'rebooting';
      const listener = ep.listener;
      ep.listener = undefined;
      listener?.close();
      for (const s of ep.sockets) s.destroy();
      ep.sockets.clear();
      const b = ep.machine.behaviour;
      if (b.rebootMode === 'never') {
        ep.phase = 'down';
        return;
      }
      const delay = b.rebootMode === 'slow' ? b.slowRebootDelayMs : b.rebootDelayMs;
      this.later(delay, () => {
        ep.machine.boot(randomUUID(), Date.now());
        if (b.rebootMode === 'new-host-key') ep.hostKeyIndex = (ep.hostKeyIndex + 1) % this.hostKeys.length;
        this.counters.reboots++;
        void this.listen(ep, false).then(() => {
          if (!this.stopped) ep.phase = 'up';
          else ep.listener?.close();
        });
      });
    });
  }
}

function parseClientKeys(input: SimulatedFleetOptions['clientPublicKey']): AllowedKey[] {
  const list = Array.isArray(input) ? input : [input];
  if (list.length === 0) throw new SimulatedFleetConfigError('clientPublicKey must name at least one key');
  return list.map((k, i) => {
    const parsed = utils.parseKey(k as string | Buffer);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key || key instanceof Error)
      throw new SimulatedFleetConfigError(`clientPublicKey[${i}] is not a public key: ${key instanceof Error ? key.message : 'empty'}`, { index: i });
    return { type: key.type, blob: key.getPublicSSH(), parsed: key };
  });
}

/** Soft limit of open files of this process, from /proc (undefined where /proc is absent). */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
