// The waiting room from the buyer's side: join the line over HTTP, follow it over the live socket.
// One status is kept: `queue` messages (room-wide: the line moved) move its position, `queueStatus`
// messages (this visitor's number after the draw, admission with its token, lost turn) replace it.
// When in doubt (a reconnect without its session, a join answer that crossed a push, a draw whose
// number has not come) the page asks again with `watchQueue`, whose answer is the truth.
import { api } from './api.ts';
import { liveSocket } from './live.ts';

export type LineState = 'open' | 'waiting' | 'admitted' | 'expired' | 'none';

/** The server's waiting-room status (README "Waiting room"), as JSON. */
export interface LineStatus {
  eventId: string;
  state: LineState;
  position: number | null;
  number: number | null;
  admittedThrough: number;
  waiting: number;
  lottery: boolean;
  drawAt: string;
  admitPerSecond: number;
  estimatedWaitSeconds: number | null;
  admissionToken: string | null;
  expiresAt: string | null;
}

export interface QueueUpdate {
  eventId: string;
  admittedThrough: number;
  waiting: number;
  admitPerSecond: number;
  lottery: boolean;
}

type Ack = LineStatus | { error: { code: string; message: string } };

/**
 * After the draw the server tells everyone in line their number, 2,000 a round (about a second
 * each): a visitor whose number has not come by then, plus a spread grace (so a room does not ask
 * at once), asks again.
 */
const NUMBERS_PER_ROUND = 2_000;
const ROUND_MS = 1_500;
const NUMBER_GRACE_MS = [15_000, 45_000] as const;
/** setTimeout's ceiling is ~24.8 days; a draw further off is re-armed by the next status anyway. */
const LONGEST_TIMER_MS = 6 * 3600_000;

const waitFor = (position: number, perSecond: number) => (perSecond > 0 ? Math.ceil(position / perSecond) : null);

/** Our place after the line moved to `through` (the highest seen wins: two nodes' messages may cross). */
function placed(status: LineStatus, through: number): LineStatus {
  if (through < status.admittedThrough) return status;
  if (status.state !== 'waiting' || status.number === null) return { ...status, admittedThrough: through };
  const position = Math.max(0, status.number - through);
  return { ...status, admittedThrough: through, position, estimatedWaitSeconds: waitFor(position, status.admitPerSecond) };
}

/** A room-wide update applied to our status. */
export function moveLine(status: LineStatus, update: QueueUpdate): LineStatus {
  if (update.eventId !== status.eventId || update.admittedThrough < status.admittedThrough) return status;
  // A draw made (lottery false) while we still wait for our number keeps `lottery`: we have no place yet.
  return placed({ ...status, waiting: update.waiting, admitPerSecond: update.admitPerSecond }, update.admittedThrough);
}

/** A fresh status replacing the current one, keeping the furthest the line is known to have moved. */
export function settle(current: LineStatus | null, next: LineStatus): LineStatus {
  return current ? placed(next, Math.max(current.admittedThrough, next.admittedThrough)) : next;
}

export interface Line {
  /** Where we stand; null until the first answer. */
  readonly status: LineStatus | null;
  /** True once the socket watches the line (pushes reach us). */
  readonly live: boolean;
  /** True when the draw is known to be made (a `queue` message said so, or we have a number after it). */
  readonly drawn: boolean;
  /** Joins the line (again, after a lost turn); failures go to onProblem. */
  join(): Promise<void>;
  /** Asks where we stand again, over the socket. */
  recheck(): void;
  stop(): void;
}

/** Follows `eventId`'s line for the signed-in buyer; `onChange` after every change, `onProblem` on a failure. */
export function followLine(eventId: string, onChange: (line: Line) => void, onProblem: (err: unknown) => void): Line {
  const socket = liveSocket();
  let status: LineStatus | null = null;
  let live = false;
  /** When we learnt the draw was made (null: not yet). */
  let drawSeenAt: number | null = null;
  let stopped = false;
  /** Statuses heard over the socket: an HTTP answer that crossed one is older than what we know. */
  let heard = 0;
  let graceTimer: number | undefined;

  const apply = (next: LineStatus) => {
    status = settle(status, next);
    if (status.state === 'waiting' && !status.lottery) drawSeenAt ??= Date.now();
    awaitNumber();
    onChange(line);
  };

  // After the draw every visitor is told their number (in chunks per round); this is the fallback.
  const awaitNumber = () => {
    if (stopped || status?.state !== 'waiting' || status.number !== null) {
      window.clearTimeout(graceTimer);
      graceTimer = undefined;
      return;
    }
    if (graceTimer !== undefined) return;
    const drawnAt = drawSeenAt ?? Date.parse(status.drawAt);
    const [low, high] = NUMBER_GRACE_MS;
    const due = drawnAt + (status.waiting / NUMBERS_PER_ROUND) * ROUND_MS + low + Math.random() * (high - low);
    const delay = Math.min(Math.max(due - Date.now(), low), LONGEST_TIMER_MS);
    graceTimer = window.setTimeout(() => {
      graceTimer = undefined;
      line.recheck();
    }, delay);
  };

  const fromServer = async (request: Promise<LineStatus>) => {
    const before = heard;
    try {
      const answer = await request;
      if (stopped) return;
      if (heard === before) apply(answer);
      else line.recheck();
    } catch (err) {
      if (!stopped) onProblem(err);
    }
  };

  const onStatus = (next: LineStatus) => {
    if (next.eventId !== eventId || stopped) return;
    heard += 1;
    apply(next);
  };
  const onQueue = (update: QueueUpdate) => {
    if (update.eventId !== eventId || !status || stopped) return;
    if (!update.lottery) drawSeenAt ??= Date.now();
    status = moveLine(status, update);
    awaitNumber();
    onChange(line);
  };
  const onConnect = () => {
    if (!socket.recovered) return line.recheck();
    live = true; // the session came back with its rooms, and the messages it missed
    onChange(line);
  };
  const onDisconnect = () => {
    live = false;
    onChange(line);
  };

  const line: Line = {
    get status() {
      return status;
    },
    get live() {
      return live;
    },
    get drawn() {
      return drawSeenAt !== null;
    },
    join: () => fromServer(api<LineStatus>(`/events/${eventId}/waiting-room`, { method: 'POST' })),
    recheck() {
      socket
        .emitWithAck('watchQueue', { eventId })
        .then((ack: Ack) => {
          if (stopped) return;
          if ('error' in ack) return onProblem(new Error(ack.error.message));
          live = true;
          onStatus(ack);
        })
        .catch((err: unknown) => {
          if (!stopped) onProblem(err);
        });
    },
    stop() {
      stopped = true;
      window.clearTimeout(graceTimer);
      socket.off('queueStatus', onStatus);
      socket.off('queue', onQueue);
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      socket.emit('unwatchQueue', { eventId });
    },
  };

  socket.on('queueStatus', onStatus);
  socket.on('queue', onQueue);
  socket.on('connect', onConnect);
  socket.on('disconnect', onDisconnect);
  void fromServer(api<LineStatus>(`/events/${eventId}/waiting-room`));
  if (socket.connected) line.recheck();
  return line;
}
