/** What the webhook portal reads from the API (`/api/v1/webhooks`, see webhooks/model.ts). */
export interface Health {
  recentMessages: number;
  succeeded: number;
  failed: number;
  pending: number;
  successRate: number | null;
  lastAttemptAt: string | null;
  lastStatusCode: number | null;
  lastOutcome: 'succeeded' | 'failed' | null;
}

export interface Endpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  ordered: boolean;
  /** Values are null only when withheld (an admin reading someone else's endpoint). */
  headers: Record<string, string | null>;
  headersUnreadable?: boolean;
  rateLimitPerSecond: number | null;
  status: 'active' | 'paused' | 'disabled';
  disabledReason: string | null;
  consecutiveFailures: number;
  failingSince: string | null;
  blockedUntil: string | null;
  previousSecretExpiresAt: string | null;
  health: Health;
  createdAt: string;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface Message {
  id: string;
  webhookId: string;
  eventType: string;
  orderId: string | null;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
}

export interface Attempt {
  attempt: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  responseBody: string | null;
  outcome: 'succeeded' | 'failed';
}

export interface MessageDetail extends Message {
  payload: unknown;
  history: Attempt[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** What a create or an edit sends. */
export interface EndpointInput {
  url: string;
  eventTypes: string[];
  description: string;
  ordered: boolean;
  headers: Record<string, string>;
  rateLimitPerSecond: number | null;
}
