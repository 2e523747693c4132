/**
 * The gateway's one id generator: every id it mints (orders, events, users, sessions, refresh tokens,
 * webhook endpoints and messages, request ids) is a UUIDv7, time-ordered so B-tree inserts stay local.
 *
 * Bun's native `randomUUIDv7` rather than `uuidv7` of '@orders/platform' (which the Node workers use):
 * the same format, but measured 2.1–2.6× faster in a 1e6 loop (~75 vs ~175 ns an id), and placing an
 * order, the hot path, mints two.
 */
export function newId(): string {
  return Bun.randomUUIDv7();
}
