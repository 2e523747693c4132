/**
 * The staging stage: 3 gateways and 2 edges, nginx speaking TLS 1.3 only (1.2 refused by the handshake,
 * plain HTTP redirected), and the README walkthrough over TLS.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { connect } from 'node:tls';
import { PORTS, Stage } from '../harness';
import { count, freshUp, MIN, walkthroughTest } from './support';

/** The TLS version nginx agrees to when the client allows only `version`, or the error. */
function tlsWith(version: 'TLSv1.2' | 'TLSv1.3', ca: string) {
  const [host, port] = PORTS.httpsBind.split(':');
  return new Promise<string>((resolve) => {
    const s = connect({ host, port: Number(port), ca, servername: 'localhost', minVersion: version, maxVersion: version }, () => {
      resolve(String(s.getProtocol()));
      s.end();
    });
    s.on('error', (e: Error) => resolve(`refused: ${e.message}`));
  });
}

export function stagingStage() {
  describe('staging', () => {
    const stage = new Stage('staging', ['ops/containers/staging-no-declines.yml']);
    afterAll(() => stage.down());

    test(
      'comes up with 3 gateways, 2 edges and every health check green',
      () => {
        freshUp(stage);
        expect(count(stage, 'gateway')).toBe(3);
        expect(count(stage, 'ws-edge')).toBe(2);
        stage.seedProducts();
      },
      15 * MIN,
    );

    test(
      'nginx speaks TLS 1.3 only and redirects plain HTTP',
      async () => {
        const ca = stage.ca as string;
        expect(await tlsWith('TLSv1.3', ca)).toBe('TLSv1.3');
        // Refused by the handshake itself (a protocol-version alert), not for any other reason.
        expect(await tlsWith('TLSv1.2', ca)).toMatch(
          /^refused: .*(protocol version|PROTOCOL_VERSION|unsupported protocol|UNSUPPORTED_PROTOCOL)/i,
        );
        const plain = await fetch(`http://${PORTS.httpBind}/api/v1/products`, { redirect: 'manual' });
        expect(plain.status).toBe(301);
        expect(plain.headers.get('location')).toStartWith('https://');
      },
      MIN,
    );

    walkthroughTest(stage, 'the walkthrough over TLS: an order reaches shipped on the WebSocket', { readBack: true });
  });
}
