/**
 * LZ4 for kafkajs (which ships only gzip): the workers' librdkafka producers compress with LZ4, so any
 * kafkajs consumer of the topics they write (the fault-injection checker, inspection tools) needs it to
 * read their batches. Pure JavaScript (lz4js, the LZ4 frame format Kafka uses), registered once.
 */
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
// @ts-expect-error lz4js ships no type declarations
import * as lz4 from 'lz4js';

const codec = () => ({
  async compress(encoder: { buffer: Buffer }) {
    return Buffer.from(lz4.compress(encoder.buffer) as Uint8Array);
  },
  async decompress(buffer: Buffer) {
    return Buffer.from(lz4.decompress(buffer) as Uint8Array);
  },
});

export function registerLz4(): void {
  CompressionCodecs[CompressionTypes.LZ4] = codec;
}
