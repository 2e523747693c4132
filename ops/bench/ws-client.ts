/**
 * One load-generating process of the WebSocket benchmark (forked by ws.ts): holds many `/ws/orders`
 * connections from one loopback source address, over raw TCP with a minimal WebSocket client (a socket
 * costs a few KB here, so the edge, not the client, is what is measured). Authenticates at the upgrade
 * (`Authorization: Bearer`), answers pings, and records publish → receive latency of every status frame.
 *
 * Parent → child: { type: 'connect', port, localAddress, tokens, concurrency } | { type: 'drain' } | { type: 'exit' }
 * Child → parent: { type: 'connected', ok, failed, errors } | { type: 'samples', latencies, frames }
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

type Command =
  | { type: 'connect'; port: number; localAddress: string; tokens: string[]; concurrency: number }
  | { type: 'drain' }
  | { type: 'exit' };

const sockets: Socket[] = [];
let latencies: number[] = [];
let frames = 0;
const now = () => performance.timeOrigin + performance.now();

/** A masked client frame (clients must mask), as a pong or a close. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x80 | opcode;
  out[1] = 0x80 | payload.length; // control frames: < 126 bytes
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return out;
}

function onText(text: string, ready: () => void) {
  if (text.startsWith('{"type":"ready"')) return ready();
  if (!text.includes('"sentAt"')) return;
  frames += 1;
  const { sentAt } = JSON.parse(text) as { sentAt: number };
  latencies.push(now() - sentAt);
}

/** Opens one connection; resolves on the edge's `ready` frame. */
function open(port: number, localAddress: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host: '127.0.0.1', localAddress });
    let buf: Buffer = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => fail(new Error('no ready within 60 s')), 60_000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.setNoDelay(true);
    sock.on('error', fail);
    sock.on('connect', () => {
      sock.write(
        `GET /ws/orders HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      );
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 101')) return fail(new Error(head.split('\r\n')[0]));
        upgraded = true;
        buf = buf.subarray(end + 4);
      }
      while (buf.length >= 2) {
        const opcode = (buf[0] as number) & 0x0f;
        let len = (buf[1] as number) & 0x7f;
        let offset = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          offset = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          offset = 10;
        }
        if (buf.length < offset + len) return;
        const payload = buf.subarray(offset, offset + len);
        buf = buf.subarray(offset + len);
        if (opcode === 0x1)
          onText(payload.toString('utf8'), () => {
            clearTimeout(timer);
            resolve(sock);
          });
        else if (opcode === 0x9) sock.write(clientFrame(0xa, payload));
        else if (opcode === 0x8) fail(new Error(`closed ${payload.length >= 2 ? payload.readUInt16BE(0) : ''}`));
      }
    });
  });
}

process.on('message', async (cmd: Command) => {
  if (cmd.type === 'connect') {
    let ok = 0;
    let failed = 0;
    const errors = new Map<string, number>();
    let next = 0;
    // A bounded number of handshakes in flight: the listen backlog is finite.
    await Promise.all(
      Array.from({ length: cmd.concurrency }, async () => {
        while (next < cmd.tokens.length) {
          const token = cmd.tokens[next++] as string;
          try {
            sockets.push(await open(cmd.port, cmd.localAddress, token));
            ok += 1;
          } catch (err) {
            failed += 1;
            const key = (err as Error).message.slice(0, 60);
            errors.set(key, (errors.get(key) ?? 0) + 1);
          }
        }
      }),
    );
    process.send?.({ type: 'connected', ok, failed, errors: Object.fromEntries(errors) });
  } else if (cmd.type === 'drain') {
    process.send?.({ type: 'samples', latencies, frames });
    latencies = [];
    frames = 0;
  } else if (cmd.type === 'exit') {
    for (const s of sockets) s.destroy();
    process.exit(0);
  }
});
