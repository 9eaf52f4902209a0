import { createHash, type Hash } from 'node:crypto';

/**
 * One output stream of a command, held in bounded memory: the last `capBytes` bytes, optionally
 * the first `captureBytes` bytes, a byte count and a running SHA-256 of everything. A command that
 * prints gigabytes costs the controller no more than the caps.
 */
export class OutputTail {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private readonly captured: Buffer[] = [];
  private capturedBytes = 0;

  constructor(
    private readonly capBytes: number,
    private readonly captureBytes = 0,
  ) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    if (this.capturedBytes < this.captureBytes) {
      const part = chunk.subarray(0, this.captureBytes - this.capturedBytes);
      this.captured.push(part);
      this.capturedBytes += part.length;
    }
    if (this.capBytes <= 0) return;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    while (this.chunks.length > 1 && this.kept - this.chunks[0]!.length >= this.capBytes) this.kept -= this.chunks.shift()!.length;
  }

  /** Raw SHA-256 of the whole stream; call once, at the end. */
  digest(): Buffer {
    return this.hash.digest();
  }

  /** Stdout from its start, up to the capture cap; `complete` when nothing was cut. */
  capture(): { text: string; complete: boolean } {
    return { text: Buffer.concat(this.captured).toString('utf8'), complete: this.capturedBytes === this.bytes };
  }

  /** The last `lines` lines within the byte cap; `complete` when that is the whole stream. */
  tail(lines: number): { text: string; complete: boolean } {
    if (lines <= 0) return { text: '', complete: this.bytes === 0 };
    let buf = Buffer.concat(this.chunks);
    let complete = buf.length === this.bytes;
    if (buf.length > this.capBytes) {
      buf = buf.subarray(buf.length - this.capBytes);
      complete = false;
    }
    let text = buf.toString('utf8');
    if (!complete) {
      // The first line was cut somewhere in the middle (maybe inside a character): drop it.
      const nl = text.indexOf('\n');
      text = nl >= 0 ? text.slice(nl + 1) : '';
    }
    const endsWithNewline = text.endsWith('\n');
    const body = endsWithNewline ? text.slice(0, -1) : text;
    if (body.length === 0) return { text, complete };
    const all = body.split('\n');
    if (all.length <= lines) return { text, complete };
    return { text: all.slice(all.length - lines).join('\n') + (endsWithNewline ? '\n' : ''), complete: false };
  }
}

/** `sha256(sha256(stdout) ‖ sha256(stderr))`, hex: one digest over both full streams, order-independent of arrival. */
export function combinedDigest(stdout: OutputTail, stderr: OutputTail): string {
  return createHash('sha256').update(stdout.digest()).update(stderr.digest()).digest('hex');
}
