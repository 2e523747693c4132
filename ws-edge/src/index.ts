/** Starts the WebSocket edge: configuration, one Redis subscription, the server, graceful drain (shutdown.ts). */
import {
  ConnectionSlots,
  createLogger,
  createMetrics,
  createRedisClient,
  createVerifier,
  feedKeys,
  latestSeq,
  parsePublicKeySet,
  parseStatusUpdate,
  readSince,
  serviceRevokedSessions,
} from '@orders/platform';
import { loadEnv } from './env';
import { startEdge } from './server';
import { edgeShutdown } from './shutdown';

const env = loadEnv(process.env);
const logger = createLogger({ service: 'ws-edge', level: env.LOG_LEVEL });
const metrics = createMetrics('ws-edge');
const keys = feedKeys(env.NAMESPACE);
const delivered = metrics.counter('ws_feed_messages_total', 'Feed messages received from Redis', ['outcome']);

// A dedicated connection: in subscribe mode it can do nothing else. No command timeout: it waits for messages.
const subscriber = createRedisClient({
  url: env.REDIS_URL,
  clusterNodes: env.REDIS_CLUSTER_NODES,
  connectionName: 'orders-ws-edge-sub',
  commandTimeoutMs: 0,
});
let subscribed = false;
let interrupted = false;
subscriber.on('ready', () => {
  subscriber.subscribe(keys.channel).then(
    () => {
      subscribed = true;
      logger.info({ channel: keys.channel }, 'subscribed to the status feed');
      // Updates published while the subscription was down reached no socket: the clients resume.
      if (interrupted) edge.feedResumed();
      interrupted = false;
    },
    (err) => logger.error({ err }, 'subscribe failed'),
  );
});
subscriber.on('close', () => {
  if (subscribed) interrupted = true;
  subscribed = false;
});

// Commands (connection slots) on their own connection: the subscriber cannot run any.
const redis = createRedisClient({
  url: env.REDIS_URL,
  clusterNodes: env.REDIS_CLUSTER_NODES,
  connectionName: 'orders-ws-edge',
  commandTimeoutMs: 500,
});
// Sessions ended by logout or a reused refresh token: their tokens are refused and their sockets closed.
const sessions = serviceRevokedSessions({
  redis,
  redisUrl: env.REDIS_URL,
  clusterNodes: env.REDIS_CLUSTER_NODES,
  namespace: env.NAMESPACE,
  service: 'ws-edge',
  logger,
  metrics,
});
const verify = createVerifier({ issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE }, parsePublicKeySet(env.jwtPublicKeys), {
  isRevoked: (sid) => sessions.has(sid),
});
const ws = env.rateLimits.websocket;
const slots = env.RATE_LIMIT_ENABLED ? new ConnectionSlots(redis, env.NAMESPACE, ws.connectionsPerUser, ws.slotTtlMs) : undefined;

const edge = startEdge({
  slots,
  slotTtlMs: ws.slotTtlMs,
  messagesPerSecond: env.RATE_LIMIT_ENABLED ? ws.messagesPerSecond : 1_000_000,
  host: env.HOST,
  port: env.PORT,
  verify,
  logger,
  metrics,
  authTimeoutMs: env.WS_AUTH_TIMEOUT_MS,
  maxMessageBytes: env.WS_MAX_MESSAGE_BYTES,
  idleTimeoutSeconds: env.WS_IDLE_TIMEOUT_SECONDS,
  maxBufferedBytes: env.WS_MAX_BUFFERED_BYTES,
  maxPendingPerIp: env.WS_MAX_PENDING_PER_IP,
  isRevoked: (sid) => sessions.has(sid),
  trustedProxies: env.trustedProxies,
  feed: {
    latest: (userId) => latestSeq(redis, keys, userId),
    since: (userId, after) => readSince(redis, keys, userId, after),
  },
  ready: () => subscribed,
});

subscriber.on('message', (_channel: string, text: string) => {
  const update = parseStatusUpdate(text);
  if (!update) {
    delivered.inc({ outcome: 'malformed' });
    return;
  }
  edge.deliver(update.userId, text);
  delivered.inc({ outcome: 'delivered' });
});

sessions.onRevoked((sid) => edge.endSession(sid));
sessions.start();

const shutdown = edgeShutdown({ logger, timeoutMs: env.SHUTDOWN_TIMEOUT_MS, edge, sessions, subscriber, redis });
shutdown.listen();
logger.info({ url: `ws://${env.HOST}:${edge.server.port}/ws/orders` }, 'ws-edge listening');
