// What boxoffice needs from a payment provider, and what a verified webhook tells it. One file per
// provider implements this (stripe.ts, paystack.ts, sandbox.ts); adding a provider is one more.
export type ProviderName = 'sandbox' | 'stripe' | 'paystack';

export interface StartedPayment {
  paymentId: string;
  /** Stripe: the PaymentIntent's client secret, for the buyer's page. */
  clientSecret?: string | undefined;
  /** Paystack (and the sandbox): the page the buyer is sent to. */
  redirectUrl?: string | undefined;
}

export type RemoteStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

export interface RemotePayment {
  status: RemoteStatus;
  amountMinor: number;
  currency: string;
  failure?: string | undefined;
}

/** A payment outcome a provider reported (webhook) or that reconciliation found. */
export interface PaymentOutcome {
  /** The provider's event id: with the provider, the deduplication key. */
  eventId: string;
  eventType: string;
  purchaseId: string | null;
  paymentId: string;
  outcome: 'succeeded' | 'failed';
  amountMinor: number;
  currency: string;
  reason?: string | undefined;
}

/** A verified webhook: an outcome to act on, or an event to store and ignore. */
export type VerifiedWebhook = { kind: 'outcome'; outcome: PaymentOutcome } | { kind: 'other'; eventId: string; eventType: string; purchaseId: string | null };

/** Thrown when a webhook's signature, timestamp or shape is wrong: 400, nothing changes. */
export class WebhookRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'WebhookRejected';
  }
}

export interface PaymentProvider {
  readonly name: ProviderName;
  /**
   * Whether cancel() really stops the payment. Paystack cannot: an abandoned transaction may still
   * be paid, so its payments stay watched by reconciliation after a cancel.
   */
  readonly cancelIsFinal: boolean;
  start(request: { purchaseId: string; amountMinor: number; currency: string; customerEmail: string; idempotencyKey: string }): Promise<StartedPayment>;
  /** Stops a payment that has not been made. Answers 'succeeded' if it was made meanwhile. */
  cancel(request: { paymentId: string; idempotencyKey: string }): Promise<'cancelled' | 'succeeded'>;
  refund(request: { paymentId: string; amountMinor: number; currency: string; idempotencyKey: string }): Promise<{ refundId: string }>;
  /** What the provider says about a payment now (reconciliation). */
  lookup(paymentId: string): Promise<RemotePayment>;
  /** Verifies a webhook over its raw bytes; throws WebhookRejected when it is not genuine. */
  verifyWebhook?(rawBody: Buffer, headers: Readonly<Record<string, string | string[] | undefined>>): VerifiedWebhook;
}

export class ProviderError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
