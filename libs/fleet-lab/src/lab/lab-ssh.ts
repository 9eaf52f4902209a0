import { createHash } from 'node:crypto';
import { Client } from 'ssh2';

/** Output of a command run over SSH. */
export interface SshResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** SHA256 fingerprint of the host key the server presented. */
  hostFingerprint: string;
}

/**
 * Runs one command on a lab host over SSH (ssh2 client, key authentication) and closes the
 * connection. With `expectFingerprint` the host key is pinned: any other key fails the handshake.
 */
export function sshRun(
  target: { host: string; port: number },
  auth: { username: string; privateKey: Buffer | string; expectFingerprint?: string },
  command: string,
  opts: { timeoutMs?: number } = {},
): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    let hostFingerprint = '';
    let settled = false;
    const done = (err: Error | undefined, result?: SshResult) => {
      if (settled) return;
      settled = true;
      conn.end();
      // Under packet loss (or once a host's namespace is gone) the closing handshake may never
      // complete, and the socket would keep the process alive for minutes of retransmissions.
      setTimeout(() => conn.destroy(), 500).unref();
      if (err) reject(err);
      else resolve(result!);
    };
    conn.on('ready', () => {
      conn.exec(command, (err, stream) => {
        if (err) return done(err);
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errOut.push(d));
        stream.on('exit', (c: number | null) => (code = c));
        stream.on('close', () => done(undefined, { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString(), hostFingerprint }));
      });
    });
    conn.on('error', (e) => done(e));
    conn.on('close', () => done(new Error('connection closed before the command finished')));
    conn.connect({
      host: target.host,
      port: target.port,
      username: auth.username,
      privateKey: auth.privateKey,
      readyTimeout: opts.timeoutMs ?? 10_000,
      hostVerifier: (key: Buffer) => {
        hostFingerprint = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
        return auth.expectFingerprint === undefined || auth.expectFingerprint === hostFingerprint;
      },
    });
  });
}
