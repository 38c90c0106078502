export * from './purchase.ts';
export * from './purchase-step.ts';
