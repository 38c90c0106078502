// Scanning at the door: signed ticket codes and the scanner WebSocket endpoint.
export { attachScanners, PROTOCOL_VERSION, SCANNER_PATH, type ScanOutcome, type Scanners } from './scanner-socket.ts';
export { createTicketSigner, peekFacts, verifyCode, type TicketFacts, type TicketSigner } from './ticket-codes.ts';
export { scanningRoutes } from './routes.ts';
