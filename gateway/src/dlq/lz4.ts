/**
 * LZ4 decompression for kafkajs (which ships only gzip): the workers' librdkafka producers compress with
 * LZ4, the dead letters their router writes included, and kafkajs refuses such a batch outright ("LZ4
 * compression not implemented"): without this the indexer could not read one real dead letter. Pure
 * JavaScript (lz4js, the LZ4 frame format Kafka uses). Registration is global to kafkajs; the gateway
 * writes nothing with LZ4, so compressing stays refused.
 */
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
// @ts-expect-error lz4js ships no type declarations
import * as lz4 from 'lz4js';

const codec = () => ({
  async compress(): Promise<Buffer> {
    throw new Error('LZ4 compression is not used by the gateway');
  },
  async decompress(buffer: Buffer) {
    return Buffer.from(lz4.decompress(buffer) as Uint8Array);
  },
});

export function registerLz4(): void {
  CompressionCodecs[CompressionTypes.LZ4] = codec;
}
