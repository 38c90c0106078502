// Live availability and buyer updates over Socket.IO.
export { ChangeCoalescer, SEAT_STATE_INDEX, type SeatState } from './coalescer.ts';
export { createLive, type Live, type LiveAttachDeps, type PurchaseUpdate } from './live.ts';
