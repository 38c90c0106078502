// The waiting room on an event's page: "Join the line", then where the buyer stands (the lottery
// until the on-sale instant, then a position and a rough wait, moved live), the time left once
// admitted (the page's hold buttons work only then, with the admission token), and a lost turn
// with "Join again". data-state / data-position / data-live say the same for the browser tests.
import { ApiError, token } from './api.ts';
import { failure, h } from './dom.ts';
import { countdown, roughWait } from './format.ts';
import { followLine, type Line } from './waiting-room.ts';

/** Leave to hold: with the admission token, or without one when the room is not in force (open). */
export interface HoldPermit {
  admissionToken: string | null;
}

export interface WaitingRoomPanel {
  element: HTMLElement;
  /** Leave to hold now (admitted within the window, or the room is open); null while not. */
  permit(): HoldPermit | null;
  /** A hold was refused with admission_required: ask where we stand (the answer redraws the panel). */
  recheck(): void;
  stop(): void;
}

export const isAdmissionRefusal = (err: unknown): err is ApiError => err instanceof ApiError && err.code === 'admission_required';

/** What a 403 admission_required on a hold means for the buyer. */
export function admissionRefusal(err: ApiError): HTMLElement {
  const reason = (err.details as { reason?: string } | null)?.reason;
  const message =
    reason === 'expired'
      ? 'Your turn to buy has ended, so the hold was not placed. See the waiting room above.'
      : reason === 'missing'
        ? 'This sale has a waiting room: join the line, and you can hold tickets when it is your turn.'
        : 'Your admission from the waiting room was not accepted, so the hold was not placed. See the waiting room above.';
  return h('p', { class: 'error', role: 'alert', 'data-testid': 'admission-refused' }, message);
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Mounts the panel for `eventId`; `onPermit` runs whenever permit() changed. */
export function waitingRoomPanel(eventId: string, onPermit: () => void): WaitingRoomPanel {
  const element = h('section', { class: 'card waiting-room', role: 'status', 'data-testid': 'waiting-room' });
  const body = h('div', {});
  const problem = h('div', {});
  element.append(h('h3', {}, 'Waiting room'), body, problem);
  let timer: number | undefined;
  let permit: HoldPermit | null = null;
  let line: Line | null = null;
  let shownState: string | null = null;

  const setPermit = (next: HoldPermit | null) => {
    if (next?.admissionToken === permit?.admissionToken && (next === null) === (permit === null)) return;
    permit = next;
    onPermit();
  };
  const joinButton = (label: string) => {
    const button = h('button', { type: 'button' }, label);
    button.addEventListener('click', () => {
      button.disabled = true;
      problem.replaceChildren();
      void line?.join();
    });
    return button;
  };
  const mark = (state: string, position: number | null = null) => {
    element.dataset['state'] = state;
    if (position === null) delete element.dataset['position'];
    else element.dataset['position'] = String(position);
  };

  /** While admitted: the time left, every second; at zero the turn is over (asked once: the server confirms it). */
  let askedAtExpiry: number | null = null;
  const runCountdown = (expiresAt: number, shown: HTMLElement) => {
    const tick = (): boolean => {
      const left = expiresAt - Date.now();
      shown.textContent = countdown(left);
      if (left > 0) return true;
      window.clearInterval(timer);
      timer = undefined;
      setPermit(null);
      shown.after(h('p', {}, 'Your time to hold tickets is up.'));
      if (askedAtExpiry !== expiresAt) {
        askedAtExpiry = expiresAt;
        line?.recheck();
      }
      return false;
    };
    if (tick()) timer = window.setInterval(tick, 1000);
  };

  const render = (current: Line) => {
    window.clearInterval(timer);
    timer = undefined;
    element.dataset['live'] = String(current.live);
    const s = current.status;
    if (!s) return;
    const admittedNow = s.state === 'admitted' && s.admissionToken !== null && s.expiresAt !== null;
    element.hidden = s.state === 'open';
    switch (s.state) {
      case 'open':
        // The room is not (or no longer) in force: holds need no token.
        mark('open');
        body.replaceChildren();
        break;
      case 'none':
        mark('none');
        body.replaceChildren(
          h('p', {}, 'Tickets for this event are sold through a waiting room. Join the line and you will be let in to buy in turn.'),
          joinButton('Join the line'),
        );
        break;
      case 'waiting':
        if (s.lottery || s.number === null || s.position === null) {
          mark('lottery');
          const drawAt = new Date(s.drawAt).toLocaleString();
          body.replaceChildren(
            h('p', {}, h('strong', {}, 'You are in the line.')),
            current.drawn
              ? h('p', {}, 'The draw has been made; your place in the line is on its way.')
              : h('p', {}, `Places are drawn at random when the sale opens (${drawAt}): everyone who joins before then has the same chance, so there is no need to hurry.`),
            h('p', {}, `${plural(s.waiting, 'person is', 'people are')} in the line.`),
          );
        } else if (s.position === 0) {
          mark('waiting', 0);
          body.replaceChildren(h('p', {}, h('strong', {}, 'It is nearly your turn…')));
        } else {
          mark('waiting', s.position);
          body.replaceChildren(
            h('p', {}, 'Your place in the line: ', h('strong', { class: 'place', 'data-testid': 'queue-position' }, String(s.position))),
            h('p', {}, `Estimated wait: ${s.estimatedWaitSeconds === null ? 'unknown' : roughWait(s.estimatedWaitSeconds)}.`),
            h('p', {}, 'Keep this page open: it moves by itself, and you can hold tickets when it is your turn.'),
          );
        }
        break;
      case 'admitted': {
        mark('admitted');
        const left = h('strong', { class: 'countdown', 'data-testid': 'admission-countdown' });
        body.replaceChildren(h('p', {}, h('strong', {}, 'It is your turn!'), ' Hold your tickets below before the time runs out:'), left);
        if (admittedNow) runCountdown(Date.parse(s.expiresAt!), left);
        break;
      }
      case 'expired':
        mark('expired');
        body.replaceChildren(
          h('p', { class: 'error' }, 'You missed your turn: no tickets were held in time, so your turn went to the next person in the line.'),
          h('p', {}, 'You can join the line again, at the back.'),
          joinButton('Join again'),
        );
        break;
    }
    if (s.state === 'open') setPermit({ admissionToken: null });
    else if (s.state !== 'admitted') setPermit(null);
    else if (admittedNow && Date.parse(s.expiresAt!) > Date.now()) setPermit({ admissionToken: s.admissionToken });
  };

  if (!token.get()) {
    mark('signed-out');
    body.replaceChildren(
      h('p', {}, 'Tickets for this event are sold through a waiting room. Sign in to join the line.'),
      h('button', { type: 'button', disabled: true }, 'Join the line'),
    );
    return { element, permit: () => null, recheck: () => {}, stop: () => {} };
  }

  line = followLine(
    eventId,
    (current) => {
      // A problem stays shown until the buyer acts again or their state changes (not at every move of the line).
      if (current.status && current.status.state !== shownState) problem.replaceChildren();
      shownState = current.status?.state ?? null;
      render(current);
    },
    (err) => {
      problem.replaceChildren(failure(err));
      // A failed join leaves its button usable again.
      for (const button of body.querySelectorAll('button')) button.disabled = false;
    },
  );
  mark('loading');
  body.replaceChildren(h('p', {}, 'Finding your place…'));
  return {
    element,
    permit: () => permit,
    recheck: () => line?.recheck(),
    stop() {
      window.clearInterval(timer);
      line?.stop();
    },
  };
}
