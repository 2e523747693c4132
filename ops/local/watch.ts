/**
 * Watches your orders live: connects to the WebSocket edge, authenticates with an access token in the
 * first frame (never in the URL), and prints every frame it receives.
 *
 *   npm run watch -- <access token> [ws://127.0.0.1:8090/ws/orders]
 */
const [token, url = 'ws://127.0.0.1:8090/ws/orders'] = process.argv.slice(2);
if (!token) {
  process.stderr.write('usage: npm run watch -- <access token> [ws url]\n');
  process.exit(2);
}
const ws = new WebSocket(url);
ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
ws.onmessage = (e) => process.stdout.write(`${String(e.data)}\n`);
ws.onclose = (e) => {
  process.stderr.write(`closed: ${e.code} ${e.reason}\n`);
  process.exit(e.code === 1000 ? 0 : 1);
};
process.on('SIGINT', () => ws.close(1000, 'bye'));
