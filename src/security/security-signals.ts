import { Injectable } from '@nestjs/common';

export type WebhookProvider = 'stripe' | 'paypal' | 'postmark';

/**
 * In-process signals for security monitoring of things that must not be written to the
 * database when they happen (a forged webhook is refused with nothing written). The security
 * module counts them in a window and raises one security event when a threshold is passed.
 */
@Injectable()
export class SecuritySignals {
  /** A webhook whose signature, timestamp or credentials did not verify. Never throws, never blocks. */
  webhookVerificationFailed(_provider: WebhookProvider): void {}
}
