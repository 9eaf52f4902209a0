import type { Writable } from 'node:stream';

/*
 * The bytes of one socket write made of many pieces (frames of many results, most of them shared by
 * every subscriber of a subscription), without an allocation per write and without copying large
 * shared results once per subscriber: small pieces are copied one after the other into a slab of
 * 1 MiB shared by every connection (as Node's own pool does for small buffers, at a size that holds
 * a whole flush), large ones (≥ 32 KiB: a cycle's plan) go to the socket by reference. A slab is
 * never written where a write not yet done points: a full slab is set aside and used again only
 * once every write that points into it has been released (its callback ran), so that the same
 * few slabs, already mapped, carry a whole cycle; a write that is never released only keeps its
 * slab from being used again (the garbage collector frees it).
 */

const SLAB_BYTES = 1 << 20;
/** Released slabs kept for use again; more are left to the garbage collector. */
const SPARE_SLABS = 4;
/** Pieces at least this large are written by reference (shared by every subscriber), not copied. */
export const BY_REFERENCE_BYTES = 32 * 1024;

interface Slab {
  readonly bytes: Buffer;
  /** Assembled writes pointing into it and not yet released. */
  pending: number;
  /** Full: taken out of use, to be reused once nothing points into it. */
  full: boolean;
}

const spare: Slab[] = [];
let allocated = 0;
const takeSlab = (): Slab => {
  const reused = spare.pop();
  if (reused) return reused;
  allocated++;
  return { bytes: Buffer.allocUnsafeSlow(SLAB_BYTES), pending: 0, full: false };
};
const setAside = (s: Slab): void => {
  s.full = false;
  if (spare.length < SPARE_SLABS) spare.push(s);
};
let slab = takeSlab();
let used = 0;

/** Slabs allocated so far and released ones waiting to be used again (for tests and diagnostics). */
export const slabStats = (): { allocated: number; spare: number } => ({ allocated, spare: spare.length });

/**
 * A piece of an outgoing write: bytes, or a number standing for the header of an unmasked final
 * WebSocket text frame (RFC 6455 5.2) whose payload is that many bytes (written straight into the slab).
 */
export type Piece = Uint8Array | number;

/** Writes a text frame header for a payload of `length` bytes at `at`; returns its size (2, 4 or 10). */
export function writeTextFrameHeader(into: Uint8Array, at: number, length: number): number {
  into[at] = 0x81;
  if (length < 126) {
    into[at + 1] = length;
    return 2;
  }
  if (length < 0x10000) {
    into[at + 1] = 126;
    into[at + 2] = length >>> 8;
    into[at + 3] = length & 0xff;
    return 4;
  }
  into[at + 1] = 127;
  const high = Math.floor(length / 2 ** 32);
  const low = length >>> 0;
  into[at + 2] = high >>> 24;
  into[at + 3] = (high >>> 16) & 0xff;
  into[at + 4] = (high >>> 8) & 0xff;
  into[at + 5] = high & 0xff;
  into[at + 6] = low >>> 24;
  into[at + 7] = (low >>> 16) & 0xff;
  into[at + 8] = (low >>> 8) & 0xff;
  into[at + 9] = low & 0xff;
  return 10;
}

/** One write's buffers, and its release: call it once the write is done (or failed) so its slabs can be used again. */
export interface Assembled {
  readonly chunks: Buffer[];
  release(): void;
}

/**
 * The pieces, in order, as few buffers as the large ones allow: every run of small pieces copied
 * together into the slab, every large piece as it is. Their concatenation is the pieces' bytes.
 */
export function assemble(pieces: readonly Piece[]): Assembled {
  const chunks: Buffer[] = [];
  const slabs: Slab[] = [];
  let runStart = used;
  const endRun = () => {
    if (used === runStart) return;
    chunks.push(slab.bytes.subarray(runStart, used));
    if (slabs[slabs.length - 1] !== slab) {
      slabs.push(slab);
      slab.pending++;
    }
    runStart = used;
  };
  const room = (n: number) => {
    if (used + n <= SLAB_BYTES) return;
    endRun();
    if (slab.pending === 0) setAside(slab);
    else slab.full = true;
    slab = takeSlab();
    used = runStart = 0;
  };
  for (const p of pieces) {
    if (typeof p === 'number') {
      room(10);
      used += writeTextFrameHeader(slab.bytes, used, p);
    } else if (p.length >= BY_REFERENCE_BYTES) {
      endRun();
      chunks.push(Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length));
    } else if (p.length > 0) {
      room(p.length);
      slab.bytes.set(p, used);
      used += p.length;
    }
  }
  endRun();
  let released = false;
  return {
    chunks,
    release: () => {
      if (released) return;
      released = true;
      for (const s of slabs) if (--s.pending === 0 && s.full) setAside(s);
    },
  };
}

/**
 * Writes an assembled write to `out` (corked: one writev when it is several buffers), releases it
 * once written (or failed), then calls `done`.
 */
export function writeAssembled(out: Writable, { chunks, release }: Assembled, done?: (err?: Error | null) => void): void {
  const last = chunks.length - 1;
  const finished = (err?: Error | null) => {
    release();
    done?.(err);
  };
  if (last < 0) {
    release();
    queueMicrotask(() => done?.());
    return;
  }
  if (last > 0) out.cork();
  for (let k = 0; k < last; k++) out.write(chunks[k]);
  out.write(chunks[last]!, finished);
  if (last > 0) out.uncork();
}
