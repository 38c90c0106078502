// A node going away tells its Socket.IO clients to come back (to another node behind the balancer):
// it closes each connection at the transport level, so socket.io-client reports "transport close"
// and reconnects, and connection state recovery restores the session there. A Socket.IO DISCONNECT
// packet (io.disconnectSockets) would read as "io server disconnect", after which a client stays
// away for good.
import type { Server, Socket } from 'socket.io';

type EngineConnection = Socket['conn'];

/** WebSocket close code 1012, "service restart": try again (elsewhere). */
export const SERVICE_RESTART = 1012;

interface RawWebSocket {
  close(code: number, reason: string): void;
  terminate(): void;
}

/** engine.io keeps a WebSocket transport's `ws` socket in a member its types call private. */
function rawWebSocket(conn: EngineConnection): RawWebSocket | null {
  if (conn.transport.name !== 'websocket') return null;
  const raw = (conn.transport as unknown as { socket?: Partial<RawWebSocket> }).socket;
  return typeof raw?.close === 'function' && typeof raw.terminate === 'function' ? (raw as RawWebSocket) : null;
}

/** Tracks the server's engine.io connections (including those still in a middleware). */
export function trackConnections(io: Server) {
  const open = new Set<EngineConnection>();
  io.engine.on('connection', (conn: EngineConnection) => {
    open.add(conn);
    conn.once('close', () => open.delete(conn));
  });

  return {
    count: () => open.size,
    /**
     * Closes every connection: a WebSocket with 1012, a polling one with engine.io's close packet.
     * Resolves once all are closed; after `graceMs`, whatever still hangs on is cut.
     */
    async closeAll(graceMs: number): Promise<void> {
      const closing = [...open];
      const closed = closing.map((conn) => new Promise<void>((resolve) => conn.once('close', () => resolve())));
      for (const conn of closing) {
        const ws = rawWebSocket(conn);
        if (ws) ws.close(SERVICE_RESTART, 'server restarting');
        else conn.close();
      }
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
      const overdue = await Promise.race([Promise.all(closed).then(() => false), late]);
      clearTimeout(timer);
      if (!overdue) return;
      for (const conn of open) {
        rawWebSocket(conn)?.terminate();
        conn.close(true);
      }
    },
  };
}
