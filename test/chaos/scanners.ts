// Door scanners over plain WebSockets that behave as a device behind a load balancer: when their
// connection drops they keep scanning offline (signature checked with the event's public key),
// connect to another node, say hello again and sync what they scanned meanwhile.
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { verifyCode } from '../../server/scanning/index.ts';
import type { Tally } from './crowd.ts';
import type { ChaosNode } from './nodes.ts';

interface Reply {
  type: string;
  requestId?: string;
  outcome?: string;
  publicKey?: string;
  results?: { localId: string; outcome: string; conflict?: boolean }[];
}

export class FailoverScanner {
  #ws: WebSocket | null = null;
  #waiting = new Map<string, (reply: Reply) => void>();
  #publicKey: Buffer | null = null;
  #offline: { localId: string; code: string; scannedAt: Date }[] = [];
  #closed = false;
  reconnects = 0;
  /** Outcomes the server gave, online and synced. */
  readonly outcomes: string[] = [];

  constructor(
    readonly nodes: readonly ChaosNode[],
    public node: number,
    readonly deviceToken: string,
    readonly tally: Tally,
  ) {}

  get online(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  async connect(): Promise<void> {
    for (let attempt = 0; attempt < this.nodes.length * 3 && !this.#closed; attempt++) {
      const t = this.tally.of('scan');
      const node = this.nodes[this.node % this.nodes.length]!;
      if (await this.#open(node)) return;
      t.connectionErrors++;
      this.node++;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('the scanner found no node to connect to');
  }

  async #open(node: ChaosNode): Promise<boolean> {
    const ws = new WebSocket(`${node.url.replace(/^http/, 'ws')}/scanner/v1`, { headers: { authorization: `Bearer ${this.deviceToken}` } });
    const opened = await new Promise<boolean>((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('error', () => resolve(false));
    });
    if (!opened) return false;
    ws.on('message', (data: Buffer) => {
      const reply = JSON.parse(data.toString()) as Reply;
      const resolve = this.#waiting.get(reply.requestId ?? reply.type);
      this.#waiting.delete(reply.requestId ?? reply.type);
      resolve?.(reply);
    });
    ws.once('close', () => {
      for (const resolve of this.#waiting.values()) resolve({ type: 'lost' });
      this.#waiting.clear();
      if (this.#closed) return;
      this.reconnects++;
      this.node++;
    });
    this.#ws = ws;
    const welcome = await this.#ask({ type: 'hello', protocol: 1 }, 'welcome');
    if (welcome.type !== 'welcome') return false;
    this.#publicKey = Buffer.from(welcome.publicKey!, 'base64url');
    if (this.#offline.length) {
      const scans = this.#offline.splice(0);
      const synced = await this.#ask({ type: 'sync', requestId: randomUUID(), scans }, null);
      if (synced.type !== 'synced') {
        this.#offline.unshift(...scans);
        return false;
      }
      this.#count(synced.results!.map((r) => r.outcome));
    }
    return true;
  }

  #ask(message: Record<string, unknown>, key: string | null): Promise<Reply> {
    const id = key ?? String(message['requestId']);
    if (this.#ws?.readyState !== WebSocket.OPEN) return Promise.resolve({ type: 'lost' });
    return new Promise<Reply>((resolve) => {
      this.#waiting.set(id, resolve);
      this.#ws!.send(JSON.stringify(message));
    });
  }

  #count(outcomes: readonly string[]): void {
    const t = this.tally.of('scan');
    for (const outcome of outcomes) {
      t.attempted++;
      this.outcomes.push(outcome);
      if (outcome === 'admitted' || outcome === 'already_admitted') t.succeeded++;
      else t.failedCleanly++;
    }
  }

  /** Scans a code: online when connected, else checked offline and kept for the next sync. */
  async scan(code: string): Promise<'online' | 'offline'> {
    if (this.online) {
      const reply = await this.#ask({ type: 'validate', requestId: randomUUID(), code }, null);
      if (reply.type === 'result') {
        this.#count([reply.outcome!]);
        return 'online';
      }
    }
    if (!this.#publicKey || !verifyCode(code, this.#publicKey).ok) throw new Error('offline scan of a code this scanner cannot check');
    this.#offline.push({ localId: randomUUID(), code, scannedAt: new Date() });
    return 'offline';
  }

  close(): void {
    this.#closed = true;
    this.#ws?.close();
  }
}
