/**
 * Turns a message read from a dead-letter topic into its `dead_letters` row. Nothing is decoded: the
 * value is kept as raw bytes, and a header that is missing or malformed leaves its column null (the
 * headers themselves are kept whole), so any message can be indexed.
 */
import { DeadLetterHeaders, EventHeaders } from '@orders/contracts';
import type { IHeaders } from 'kafkajs';
import { newId } from '../ids';
import type { DeadLetterTopic } from './topics';

export interface DeadLetterRow {
  id: string;
  namespace: string;
  topic: string;
  kafka_partition: number;
  kafka_offset: string;
  stage: string;
  consumer_group: string;
  event_id: string | null;
  event_type: string | null;
  order_id: string | null;
  error_code: string | null;
  error_reason: string | null;
  attempts: number | null;
  original_topic: string | null;
  original_partition: number | null;
  original_offset: string | null;
  headers: Record<string, string>;
  key: Buffer | null;
  value: Buffer | null;
  dead_lettered_at: Date;
}

export interface RawMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
  offset: string;
  timestamp: string;
}

const TEXT_LIMIT = 2_000;
const INT = /^(0|[1-9][0-9]{0,8})$/;
const BIGINT = /^(0|[1-9][0-9]{0,17})$/;

/**
 * Header values as text. A value that is not clean UTF-8 (or holds NUL, which jsonb refuses) is kept
 * as `base64:<bytes>`; a repeated header keeps its last value, as the workers read it.
 */
export function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (last === undefined) continue;
    const bytes = Buffer.isBuffer(last) ? last : Buffer.from(String(last), 'utf8');
    const text = bytes.toString('utf8');
    out[name] = text.includes('\u0000') || !Buffer.from(text, 'utf8').equals(bytes) ? `base64:${bytes.toString('base64')}` : text;
  }
  return out;
}

function text(value: string | undefined): string | null {
  if (value === undefined || value === '' || value.startsWith('base64:')) return null;
  return value.slice(0, TEXT_LIMIT);
}

function int(value: string | undefined, pattern: RegExp): string | null {
  return value !== undefined && pattern.test(value) ? value : null;
}

export function toDeadLetterRow(namespace: string, source: DeadLetterTopic, partition: number, message: RawMessage): DeadLetterRow {
  const h = headerText(message.headers);
  const key = message.key && message.key.length > 0 ? headerText({ key: message.key }).key : undefined;
  const at = Number(message.timestamp);
  const attempts = int(h[DeadLetterHeaders.attempts], INT);
  const originalPartition = int(h[DeadLetterHeaders.originalPartition], INT);
  return {
    id: newId(),
    namespace,
    topic: source.topic,
    kafka_partition: partition,
    kafka_offset: message.offset,
    stage: source.stage,
    consumer_group: source.group,
    event_id: text(h[EventHeaders.eventId]),
    event_type: text(h[EventHeaders.eventType]),
    order_id: text(key),
    error_code: text(h[DeadLetterHeaders.errorCode]),
    error_reason: text(h[DeadLetterHeaders.errorReason]),
    attempts: attempts === null ? null : Number(attempts),
    original_topic: text(h[DeadLetterHeaders.originalTopic]),
    original_partition: originalPartition === null ? null : Number(originalPartition),
    original_offset: int(h[DeadLetterHeaders.originalOffset], BIGINT),
    headers: h,
    key: message.key,
    value: message.value,
    // A message without a usable timestamp (-1) is dated when it is indexed.
    dead_lettered_at: Number.isFinite(at) && at > 0 ? new Date(at) : new Date(),
  };
}
