/**
 * Webhooks, the parts the gateway (registration) and the dispatcher (delivery) share: Standard Webhooks
 * signing, endpoint secrets (generated, encrypted at rest), the retry schedule, and the SSRF guard.
 */
export * from './address-guard';
export * from './schedule';
export * from './secrets';
export * from './signing';
