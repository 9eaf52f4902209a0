import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Receiver } from 'ws';
import { assemble, BY_REFERENCE_BYTES, slabStats, writeTextFrameHeader } from './chunks.js';

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

describe('assemble: the pieces of one socket write', () => {
  it('copies runs of small pieces into one buffer and passes large ones by reference, in order', () => {
    const large = bytes(BY_REFERENCE_BYTES, 0x4c);
    const pieces = [bytes(10, 1), bytes(20, 2), large, bytes(5, 3), Buffer.alloc(0), bytes(7, 4)];
    const { chunks, release } = assemble(pieces);
    release();
    assert.equal(chunks.length, 3);
    assert.equal(chunks[1], large, 'the large piece is the caller’s own buffer, not a copy');
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat(pieces));
  });

  /** ≈ 1.8 MiB per round in pieces of up to 30 KiB: a slab (1 MiB) fills within each round. */
  const round = (r: number) =>
    Array.from({ length: 120 }, (_, k) => {
      const pieces = [bytes(1 + ((k * 7919 + r) % 30_000), (k + r) & 0xff), bytes(3, (k + 1) & 0xff)];
      return { assembled: assemble(pieces), expected: Buffer.concat(pieces) };
    });

  it('never overwrites bytes of a write not yet released: they stay intact however much is assembled after them', () => {
    const held = round(0);
    for (let r = 1; r <= 5; r++) for (const { assembled } of round(r)) assembled.release();
    for (const { assembled, expected } of held) assert.deepEqual(Buffer.concat(assembled.chunks), expected);
    for (const { assembled } of held) assembled.release();
  });

  it('does not use a slab again while one write into it is still unreleased', () => {
    const one = assemble([bytes(1000, 0xaa), bytes(24, 0xbb)]);
    const expected = Buffer.concat(one.chunks.map((c) => Buffer.from(c)));
    for (let r = 1; r <= 5; r++) for (const { assembled } of round(r)) assembled.release();
    assert.deepEqual(Buffer.concat(one.chunks), expected);
    one.release();
  });

  it('uses released slabs again instead of allocating, and only released ones', () => {
    for (const { assembled } of round(0)) assembled.release();
    const before = slabStats().allocated;
    for (let r = 1; r <= 20; r++) for (const { assembled } of round(r)) assembled.release();
    // 20 rounds of ≈ 1.8 MiB each went through the slabs set aside by earlier rounds.
    assert.ok(slabStats().allocated - before <= 1, `allocated ${slabStats().allocated - before} new slabs for 36 MiB of released writes`);
    assert.ok(slabStats().spare > 0);
    // Released twice, counted once: a second release must not free a slab another write points into.
    const held = assemble([bytes(500, 0x11)]);
    const twice = assemble([bytes(500, 0x22)]);
    twice.release();
    twice.release();
    for (let r = 101; r <= 104; r++) for (const { assembled } of round(r)) assembled.release();
    assert.deepEqual(Buffer.concat(held.chunks), bytes(500, 0x11));
    held.release();
  });

  it('writes WebSocket text frame headers for every length class, as a WebSocket peer reads them', async () => {
    for (const length of [0, 1, 125, 126, 127, 65_535, 65_536, 300_000]) {
      const payload = Buffer.alloc(length, 0x61);
      const { chunks, release } = assemble([length, payload]);
      const frame = Buffer.concat(chunks);
      release();
      const header = Buffer.alloc(10);
      assert.equal(frame.length, writeTextFrameHeader(header, 0, length) + length);
      // A real frame parser (the `ws` package's, as a client uses it) reads one text message of that length.
      const receiver = new Receiver({ isServer: false });
      const got = new Promise<{ data: Buffer; binary: boolean }>((resolve, reject) => {
        receiver.on('message', (data: Buffer, binary: boolean) => resolve({ data, binary }));
        receiver.on('error', reject);
      });
      receiver.write(frame);
      const { data, binary } = await got;
      assert.equal(binary, false, `length ${length}`);
      assert.equal(data.length, length, `length ${length}`);
    }
  });
});
