// What the purchase actor needs from a payment provider. Each call carries an idempotency key
// (purchase id and step), so a retried effect never charges, cancels or refunds twice.
export interface PaymentPort {
  start(request: { purchaseId: string; amountMinor: number; currency: string; idempotencyKey: string }): Promise<{ paymentId: string }>;
  cancel(request: { purchaseId: string; paymentId: string; idempotencyKey: string }): Promise<void>;
  refund(request: { purchaseId: string; paymentId: string; amountMinor: number; currency: string; idempotencyKey: string }): Promise<void>;
}
