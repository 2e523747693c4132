/**
 * Watches your orders live: connects to the WebSocket edge, authenticates with the access token in
 * its first frame (never in the URL, and never on the command line where shells and npm echo it), and
 * prints every frame it receives.
 *
 *   TOKEN=<access token> npm run watch [-- ws://127.0.0.1:8090/ws/orders]
 */
import { ConfigError, parseEnv, str } from '@orders/platform/config/env';

/** The token, never echoed (not even in the message when it is malformed). */
function readToken(): string {
  try {
    return parseEnv({ TOKEN: str({ secret: true }) }, process.env).TOKEN;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\nusage: TOKEN=<access token> npm run watch [-- <ws url>]\n`);
    process.exit(2);
  }
}

const token = readToken();
const url = process.argv[2] ?? 'ws://127.0.0.1:8090/ws/orders';
const ws = new WebSocket(url);
ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
ws.onmessage = (e) => process.stdout.write(`${String(e.data)}\n`);
ws.onclose = (e) => {
  process.stderr.write(`closed: ${e.code} ${e.reason}\n`);
  process.exit(e.code === 1000 ? 0 : 1);
};
process.on('SIGINT', () => ws.close(1000, 'bye'));
