/**
 * LZ4 for kafkajs (which ships only gzip): the workers' librdkafka producers compress with LZ4, so any
 * kafkajs consumer of the topics they write (the fault-injection checker, inspection tools) needs it to
 * read their batches, and a test that writes as they do needs it to compress. Pure JavaScript (lz4js,
 * the LZ4 frame format Kafka uses), registered once.
 */
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
// @ts-expect-error lz4js ships no type declarations
import * as lz4 from 'lz4js';
// @ts-expect-error lz4js ships no type declarations
import * as xxh32 from 'lz4js/xxh32.js';

/** lz4js's block size (its descriptor's BD 7): a batch up to this size is one block. */
const BLOCK_BYTES = 4 << 20;

/**
 * lz4js leaves the frame's block-independence flag clear, which Kafka refuses outright ("Dependent block
 * stream is unsupported"). A frame of one block depends on nothing: the flag is set, and the descriptor's
 * checksum (xxh32 of its flag and BD bytes, second byte) written again. Larger batches are refused here.
 */
function compressFrame(data: Buffer): Buffer {
  if (data.length > BLOCK_BYTES) throw new Error(`lz4: a batch over ${BLOCK_BYTES} bytes would not be one independent block`);
  const frame = Buffer.from(lz4.compress(data) as Uint8Array);
  frame[4] = (frame[4] as number) | 0x20;
  frame[6] = ((xxh32.hash(0, frame, 4, 2) as number) >>> 8) & 0xff;
  return frame;
}

const codec = () => ({
  async compress(encoder: { buffer: Buffer }) {
    return compressFrame(encoder.buffer);
  },
  async decompress(buffer: Buffer) {
    return Buffer.from(lz4.decompress(buffer) as Uint8Array);
  },
});

export function registerLz4(): void {
  CompressionCodecs[CompressionTypes.LZ4] = codec;
}
