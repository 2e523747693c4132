/**
 * One socket's life after the upgrade, as Bun's WebSocket handlers: open (admission or its timeout),
 * each client frame (the message rate, malformed frames, `auth`, `resume`), close (everything it held
 * given back). Also the transport settings: frame size, Bun's own buffer limit, idle timeout, pings.
 */
import type { WebSocketHandler } from 'bun';
import type { Admission } from './admission';
import type { SocketData, SocketRegistry } from './connections';
import type { Delivery } from './delivery';
import { EdgeErrorCodes } from './error-codes';
import type { EdgeOptions } from './options';
import { CloseCodes, parseClientMessage } from './protocol';
import type { EdgeSlots } from './slots';

const MAX_BAD_FRAMES = 5;
const MAX_STRIKES = 3;

const utf8 = new TextDecoder();

export function socketHandlers(
  o: Pick<EdgeOptions, 'verify' | 'maxMessageBytes' | 'maxBufferedBytes' | 'idleTimeoutSeconds' | 'messagesPerSecond'>,
  parts: { sockets: SocketRegistry; slots: EdgeSlots; admission: Admission; delivery: Delivery },
): WebSocketHandler<SocketData> {
  const { sockets, slots, admission, delivery } = parts;
  const { send, close } = sockets;
  return {
    maxPayloadLength: o.maxMessageBytes,
    // Above our own bound (checked after every delivery), so Bun never drops a frame silently first.
    backpressureLimit: o.maxBufferedBytes * 2 + 64 * 1024,
    closeOnBackpressureLimit: false,
    idleTimeout: o.idleTimeoutSeconds,
    sendPings: true,
    open(ws) {
      sockets.opened(ws);
      admission.opened(ws);
    },
    async message(ws, raw) {
      if (!ws.data.bucket.take()) {
        ws.data.strikes += 1;
        send(ws, { type: 'error', code: EdgeErrorCodes.rateLimited, message: `at most ${o.messagesPerSecond} frames per second` });
        if (ws.data.strikes >= MAX_STRIKES) close(ws, CloseCodes.rateLimited, 'sending too fast');
        return;
      }
      ws.data.strikes = 0;
      const text = typeof raw === 'string' ? raw : utf8.decode(raw);
      const msg = parseClientMessage(text);
      if ('error' in msg) {
        ws.data.badFrames += 1;
        send(ws, { type: 'error', code: EdgeErrorCodes.badFrame, message: msg.error });
        if (ws.data.badFrames >= MAX_BAD_FRAMES) close(ws, CloseCodes.badMessages, 'too many malformed frames');
        return;
      }
      if (msg.type === 'resume') {
        // After the socket's pending authentications, so a resume sent right behind `auth` works.
        await ws.data.admitting;
        const principal = ws.data.principal;
        if (!principal) send(ws, { type: 'error', code: EdgeErrorCodes.notAuthenticated, message: 'authenticate before resuming' });
        else await delivery.resume(ws, principal, msg.after);
        return;
      }
      try {
        await admission.admitInOrder(ws, o.verify(msg.token));
      } catch {
        close(ws, CloseCodes.unauthenticated, 'invalid or expired token');
      }
    },
    close(ws) {
      ws.data.closed = true;
      sockets.closed(ws);
      slots.release(ws);
      if (ws.data.timer) clearTimeout(ws.data.timer);
    },
  };
}
