/**
 * Closed-loop attackers: `connections` loops that each send their next request as soon as the last one
 * is answered, for `durationS`: as fast as the target lets them, which is what an abusive client does.
 * autocannon drives them from this machine's usual address; an attacker that must come from an address of
 * its own (a second loopback address, so that refusing it does not refuse the bystanders) runs on the
 * engine's node:http client, which can bind one (and also paces a brute force). A request is offered, sent
 * and counted in the second it left. autocannon forgets the requests in flight when its time is up: those
 * are not counted at all; the node:http loops wait for theirs.
 */
import autocannon from 'autocannon';
import { type HttpRequest, httpClient } from './http';
import type { Recorder } from './recorder';

export interface HammerOptions {
  baseUrl: string;
  cls: string;
  recorder: Recorder;
  connections: number;
  /** When to stop, in seconds into the run (the recorder's clock): attackers end with the run. */
  untilS: number;
  /** Each request (autocannon: the same one every time). */
  request: () => HttpRequest;
  /** Send from this local address (node:http); unset: autocannon from the default one. */
  localAddress?: string;
  /** Never more than this many requests per second in all (a brute force is slow on purpose). */
  maxPerSecond?: number;
  /** Never more than this many requests in all (node:http only). */
  maxRequests?: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

export function runHammer(o: HammerOptions): Promise<void> {
  const paced = o.localAddress !== undefined || o.maxPerSecond !== undefined || o.maxRequests !== undefined;
  return paced ? viaNodeHttp(o) : viaAutocannon(o);
}

function viaAutocannon(o: HammerOptions): Promise<void> {
  const req = o.request();
  const { recorder, cls } = o;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${o.baseUrl}${req.path}`,
        method: req.method as 'GET',
        headers: req.headers,
        body: req.body,
        connections: o.connections,
        duration: Math.max(0.5, o.untilS - recorder.elapsedMs() / 1000),
        timeout: Math.ceil(o.timeoutMs / 1000),
      },
      (err) => (err ? reject(err) : resolve()),
    );
    const endMs = o.untilS * 1000;
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      const sentAt = performance.now() - responseTime;
      // autocannon's clock starts once it has connected: what it sent after the run's end is not counted.
      if (recorder.elapsedMs(sentAt) >= endMs) return;
      const second = recorder.secondOf(sentAt);
      recorder.offer(cls, second);
      recorder.send(cls, second);
      recorder.answer(cls, second, statusCode, responseTime);
    });
    instance.on('reqError', (err: unknown) => {
      if (recorder.elapsedMs() >= endMs) return;
      const second = recorder.secondOf(performance.now());
      recorder.offer(cls, second);
      recorder.send(cls, second);
      recorder.fail(cls, second, /timed out/.test(String((err as Error)?.message)) ? 'timeout' : 'error');
    });
    o.signal?.addEventListener('abort', () => instance.stop(), { once: true });
  });
}

async function viaNodeHttp(o: HammerOptions): Promise<void> {
  const client = httpClient(o.baseUrl, { maxSockets: o.connections, timeoutMs: o.timeoutMs, localAddress: o.localAddress });
  const { recorder, cls } = o;
  const endAt = recorder.startedAt + o.untilS * 1000;
  let thisSecond = -1;
  let sentThisSecond = 0;
  let sent = 0;
  const loop = async () => {
    while (performance.now() < endAt && !o.signal?.aborted && sent < (o.maxRequests ?? Number.POSITIVE_INFINITY)) {
      const at = performance.now();
      const second = recorder.secondOf(at);
      if (o.maxPerSecond !== undefined) {
        if (second !== thisSecond) {
          thisSecond = second;
          sentThisSecond = 0;
        }
        if (sentThisSecond >= o.maxPerSecond) {
          await new Promise((r) => setTimeout(r, 1000 - (recorder.elapsedMs(at) % 1000)));
          continue;
        }
        sentThisSecond++;
      }
      sent++;
      recorder.offer(cls, second);
      recorder.send(cls, second);
      const res = await client.send(o.request());
      if (res.ok) recorder.answer(cls, second, res.status, performance.now() - at);
      else recorder.fail(cls, second, res.kind);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.connections }, loop));
  } finally {
    client.close();
  }
}
