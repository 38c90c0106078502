// What the purchase actor needs from payments. Each call carries an idempotency key (purchase id
// and step), so a retried effect never charges, cancels or refunds twice.
export interface PaymentPort {
  start(request: { purchaseId: string; amountMinor: number; currency: string; idempotencyKey: string }): Promise<{ paymentId: string }>;
  /** Answers 'succeeded' when the payment was made before it could be stopped (money to account for). */
  cancel(request: { purchaseId: string; paymentId: string; idempotencyKey: string }): Promise<'cancelled' | 'succeeded'>;
  refund(request: { purchaseId: string; paymentId: string; amountMinor: number; currency: string; idempotencyKey: string }): Promise<void>;
}
