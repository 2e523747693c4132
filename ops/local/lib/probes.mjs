// @ts-check
/**
 * Readiness probes that send each server a real request and check its answer, not just an open
 * port: Redis must answer PING, Kafka must answer an ApiVersions request without error, the schema
 * registry must list its subjects. Dependency-free (runs before `npm ci`).
 */
import { connect } from 'node:net';

/**
 * Sends `payload` and resolves with the bytes received once `done(buffer)` says the answer is whole.
 * @param {string} host @param {number} port @param {Buffer} payload @param {(b: Buffer) => boolean} done
 * @param {number} [timeoutMs]
 * @returns {Promise<Buffer>}
 */
function exchange(host, port, payload, done, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    /** @type {Buffer[]} */
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (done(all)) {
        clearTimeout(timer);
        socket.end();
        resolve(all);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** @param {string} host @param {number} port */
export async function redisPing(host, port) {
  const answer = await exchange(host, port, Buffer.from('*1\r\n$4\r\nPING\r\n'), (b) => b.includes('\r\n'));
  const text = answer.toString('utf8').trim();
  if (text !== '+PONG') throw new Error(`Redis answered ${JSON.stringify(text)} to PING`);
  return true;
}

/**
 * Kafka ApiVersions v0 (still served by Kafka 4.x for client bootstrapping). The broker only answers it
 * once its request handlers run, which is after it has joined the KRaft quorum.
 * @param {string} host @param {number} port
 */
export async function kafkaApiVersions(host, port) {
  const clientId = Buffer.from('orders-stack-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  let o = 0;
  o = body.writeInt16BE(18, o); // api key: ApiVersions
  o = body.writeInt16BE(0, o); // api version
  o = body.writeInt32BE(7, o); // correlation id
  o = body.writeInt16BE(clientId.length, o);
  clientId.copy(body, o);
  const frame = Buffer.concat([Buffer.alloc(4), body]);
  frame.writeInt32BE(body.length, 0);
  const answer = await exchange(host, port, frame, (b) => b.length >= 4 && b.length >= 4 + b.readInt32BE(0));
  const correlation = answer.readInt32BE(4);
  const errorCode = answer.readInt16BE(8);
  const apiCount = answer.readInt32BE(10);
  if (correlation !== 7) throw new Error(`Kafka answered correlation id ${correlation}, expected 7`);
  if (errorCode !== 0) throw new Error(`Kafka ApiVersions error code ${errorCode}`);
  if (apiCount < 10) throw new Error(`Kafka listed only ${apiCount} APIs`);
  return true;
}

/** @param {string} url */
export async function httpOk(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  await res.arrayBuffer();
  return true;
}
