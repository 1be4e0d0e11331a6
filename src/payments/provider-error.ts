/**
 * A call to a payment provider that did not succeed. `transient` failures (network, timeouts,
 * 5xx, rate limits, lock conflicts) may succeed when retried with the same idempotency key;
 * the others (an invalid request, a refused refund) will not.
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: 'stripe' | 'paypal',
    readonly transient: boolean,
    readonly code: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** The provider is not configured (no keys): the feature is unavailable, not broken. */
export class ProviderNotConfigured extends Error {
  constructor(readonly provider: 'stripe' | 'paypal') {
    super(`${provider} is not configured`);
    this.name = 'ProviderNotConfigured';
  }
}
