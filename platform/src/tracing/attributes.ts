/**
 * The span attributes the platform sets, in one list: OpenTelemetry's semantic-convention names (HTTP
 * and errors are stable, messaging still in development), and the platform's own under `orders.`. Written
 * out rather than imported, so a process with tracing off loads nothing of OpenTelemetry.
 */
export const Attr = {
  httpMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpStatus: 'http.response.status_code',
  urlPath: 'url.path',
  serverAddress: 'server.address',
  errorType: 'error.type',
  messagingSystem: 'messaging.system',
  messagingDestination: 'messaging.destination.name',
  messagingOperation: 'messaging.operation.type',
  messagingMessageId: 'messaging.message.id',
  /** The worker stage (validator, payment, …, webhooks). */
  stage: 'orders.stage',
  eventType: 'orders.event.type',
  orderId: 'orders.order.id',
  /** What became of an event in a stage: handled, duplicate, retried, dead_lettered, abandoned. */
  outcome: 'orders.outcome',
  /** The attempt a stage or a webhook delivery is on (1 = first). */
  attempt: 'orders.attempt',
  webhookEndpoint: 'orders.webhook.endpoint_id',
  webhookMessage: 'orders.webhook.message_id',
} as const;
