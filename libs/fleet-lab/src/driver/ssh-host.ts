import { Client } from 'ssh2';
import { sshFingerprint } from '../sim/host-keys.js';
import { HostKeyChangedError, SshConnectError } from './errors.js';
import { quoteArgv } from './quote-argv.js';

/** Where and how to reach one host. */
export interface DriverTarget {
  /** Stable name used in outcomes. */
  id: string;
  host: string;
  port: number;
  /** Expected `SHA256:...` host key fingerprint; enforced when pinning is on. */
  hostKeyFingerprint?: string;
}

/** Credentials and connection settings shared by every host of a run. */
export interface SshSettings {
  username: string;
  /** OpenSSH or PEM private key text. */
  privateKey: string | Buffer;
  /** Refuse hosts whose key differs from `hostKeyFingerprint`. */
  pinHostKeys: boolean;
  /** Handshake timeout (ms). */
  connectTimeoutMs: number;
}

/** Output of one remote command. `exitCode` is null when the connection went away first. */
export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One persistent SSH connection to a host. Every command goes over it as an exec request whose
 * command string comes from {@link quoteArgv}; nothing else builds shell text.
 */
export class SshHost {
  /** Resolves when the connection ends, for whatever reason (a reboot, typically). */
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(
    private readonly client: Client,
    /** Fingerprint of the host key the server presented. */
    readonly hostKeyFingerprint: string,
  ) {
    this.closed = new Promise((resolve) =>
      client.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  /**
   * Opens a connection and authenticates with the private key.
   * @throws HostKeyChangedError when pinning is on and the key differs; SshConnectError otherwise.
   */
  static connect(target: DriverTarget, settings: SshSettings): Promise<SshHost> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      let presented = '';
      let refused = false;
      client.on('error', (e: Error) => {
        if (refused) reject(new HostKeyChangedError(target.host, target.port, target.hostKeyFingerprint ?? '', presented));
        else reject(new SshConnectError(target.host, target.port, e.message));
      });
      // A host that closes the socket before the handshake ends emits no error; without this the
      // promise would never settle. After `ready` a rejection is a no-op.
      client.once('close', () => reject(new SshConnectError(target.host, target.port, 'connection closed before authentication')));
      client.once('ready', () => {
        // Errors after the handshake (reset by a rebooting host) surface through `closed` and exec.
        client.removeAllListeners('error');
        client.on('error', () => undefined);
        resolve(new SshHost(client, presented));
      });
      client.connect({
        host: target.host,
        port: target.port,
        username: settings.username,
        privateKey: settings.privateKey,
        readyTimeout: settings.connectTimeoutMs,
        hostVerifier: (key: Buffer) => {
          presented = sshFingerprint(key);
          if (settings.pinHostKeys && target.hostKeyFingerprint !== undefined && presented !== target.hostKeyFingerprint) {
            refused = true;
            return false;
          }
          return true;
        },
      });
    });
  }

  /** Runs argv on the host; resolves when the channel closes. Never rejects for a non-zero exit. */
  exec(argv: readonly string[]): Promise<ExecResult> {
    const command = quoteArgv(argv);
    return new Promise((resolve) => {
      if (this.isClosed) {
        resolve({ exitCode: null, stdout: '', stderr: 'connection closed' });
        return;
      }
      let stdout = '';
      let stderr = '';
      let exitCode: number | null = null;
      try {
        this.client.exec(command, (e, stream) => {
          if (e) {
            resolve({ exitCode: null, stdout, stderr: e.message });
            return;
          }
          stream.on('data', (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          stream.on('exit', (code: number | null) => (exitCode = typeof code === 'number' ? code : null));
          stream.on('close', () => resolve({ exitCode, stdout, stderr }));
        });
      } catch (e) {
        resolve({ exitCode: null, stdout, stderr: (e as Error).message });
      }
    });
  }

  /** Closes the connection. */
  end(): void {
    this.client.end();
  }
}
