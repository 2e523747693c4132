/**
 * Errors raised by the contracts layer. Codes are stable (`CONTRACTS_` prefix): consumers route on them
 * (an undecodable message is dead-lettered, never retried), and they appear in logs and DLQ headers.
 */
export const ContractErrorCodes = {
  truncated: 'CONTRACTS_TRUNCATED',
  badMagic: 'CONTRACTS_BAD_MAGIC_BYTE',
  unknownSchemaId: 'CONTRACTS_UNKNOWN_SCHEMA_ID',
  unknownEvent: 'CONTRACTS_UNKNOWN_EVENT',
  incompatibleSchema: 'CONTRACTS_INCOMPATIBLE_SCHEMA',
  corruptPayload: 'CONTRACTS_CORRUPT_PAYLOAD',
  invalidPayload: 'CONTRACTS_INVALID_PAYLOAD',
  schemaNotPinned: 'CONTRACTS_SCHEMA_NOT_PINNED',
  notPrepared: 'CONTRACTS_CODEC_NOT_PREPARED',
  registryUnavailable: 'CONTRACTS_REGISTRY_UNAVAILABLE',
  illegalTransition: 'CONTRACTS_ILLEGAL_TRANSITION',
  unknownStatus: 'CONTRACTS_UNKNOWN_STATUS',
} as const;

export type ContractErrorCode = (typeof ContractErrorCodes)[keyof typeof ContractErrorCodes];

export class ContractError extends Error {
  override readonly name = 'ContractError';
  constructor(
    readonly code: ContractErrorCode,
    message: string,
    /** False when retrying can never help (a corrupt message stays corrupt). */
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
