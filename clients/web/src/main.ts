// The buyer's page: browse events, watch one live (counts and seat map), sign in with a mailed
// code, wait in line for a high-demand event, hold tickets or seats, watch the hold count down, pay
// (sandbox), and see the tickets with their QR codes. Hash routes: #/, #/events/<slug>, #/purchases/<id>.
import QRCode from 'qrcode';
import { api, money, retrying, token, type EventDetail, type Purchase } from './api.ts';
import { failure, h, type Child } from './dom.ts';
import { countdown } from './format.ts';
import { onPurchaseUpdate, watchEvent } from './live.ts';
import { LEGEND, SeatMap, type SeatMapDoc } from './seat-map.ts';
import { mountStripePayment } from './stripe-elements.ts';
import { admissionRefusal, isAdmissionRefusal, waitingRoomPanel, type WaitingRoomPanel } from './waiting-room-panel.ts';

const app = document.getElementById('app')!;
let cleanup: (() => void)[] = [];

function show(...nodes: Child[]): void {
  app.replaceChildren(...nodes.filter((n): n is Node | string => Boolean(n)));
}

async function whoami(): Promise<void> {
  const who = document.getElementById('who')!;
  if (!token.get()) return void who.replaceChildren('');
  try {
    const me = await api<{ email: string }>('/me');
    who.replaceChildren(me.email, ' ', h('button', { class: 'secondary', onclick: () => (token.clear(), location.reload()) }, 'Sign out'));
  } catch {
    who.replaceChildren('');
  }
}

async function listPage(): Promise<void> {
  const page = await api<{ items: { slug: string; title: string; startsAt: string; venueName: string | null }[] }>('/events?limit=50');
  show(
    h('h1', {}, 'On sale'),
    ...page.items.map((e) =>
      h('a', { href: `#/events/${e.slug}`, class: 'card event-link' }, h('h2', {}, e.title), h('p', {}, `${new Date(e.startsAt).toLocaleString()} · ${e.venueName ?? ''}`)),
    ),
    page.items.length ? null : h('p', {}, 'Nothing on sale right now.'),
  );
}

function signInForm(onDone: () => void): HTMLElement {
  const email = h('input', { type: 'email', name: 'email', placeholder: 'you@example.com', required: true, autocomplete: 'email' });
  const code = h('input', { name: 'code', placeholder: '6-digit code', inputmode: 'numeric', hidden: true });
  const note = h('p', {});
  const form = h(
    'form',
    {
      class: 'card',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void (async () => {
          try {
            if (code.hidden) {
              await api('/auth/code', { body: { email: email.value } });
              code.hidden = false;
              note.replaceChildren('We emailed you a code. (In development it is in the dev outbox: /api/v1/dev/outbox?email=…)');
            } else {
              const tokens = await api<{ accessToken: string }>('/auth/code/verify', { body: { email: email.value, code: code.value } });
              token.set(tokens.accessToken);
              location.reload();
              onDone();
            }
          } catch (err) {
            note.replaceChildren(failure(err));
          }
        })();
      },
    },
    h('h3', {}, 'Sign in to buy'),
    email,
    ' ',
    code,
    ' ',
    h('button', { type: 'submit' }, 'Continue'),
    note,
  );
  return form;
}

async function eventPage(slug: string): Promise<void> {
  const event = await api<EventDetail>(`/events/${encodeURIComponent(slug)}`);
  const seated = event.ticketTypes.filter((t) => t.kind === 'seated');
  const seatDoc = seated.length ? await api<SeatMapDoc>(`/events/${event.id}/seat-map`) : null;
  const status = h('div', {});
  const availability = new Map<string, HTMLElement>();
  const quantities = new Map<string, HTMLInputElement>();
  const seatCounts = h('p', { 'data-testid': 'seat-counts' });
  const holdSeats = h('button', { disabled: true }, 'Hold selected seats');
  const holdButtons: { button: HTMLButtonElement; onSaleNow: boolean }[] = [];
  let map: SeatMap | null = null;
  // A high-demand event: holds wait for the waiting room's admission, and carry its token.
  let room: WaitingRoomPanel | null = null;
  const mayHold = () => Boolean(token.get()) && (!room || room.permit() !== null);
  const refreshHolds = () => {
    for (const { button, onSaleNow } of holdButtons) button.disabled = !mayHold() || !onSaleNow;
    refreshSelection();
  };
  const refreshSelection = () => {
    holdSeats.disabled = !map || map.selected.size === 0 || !mayHold();
    holdSeats.textContent = map?.selected.size ? `Hold ${map.selected.size} seat${map.selected.size > 1 ? 's' : ''}` : 'Hold selected seats';
    if (map) {
      const c = map.counts();
      seatCounts.replaceChildren(`free ${c.free} · held ${c.held} · sold ${c.sold}`);
      seatCounts.dataset['free'] = String(c.free);
      seatCounts.dataset['held'] = String(c.held);
      seatCounts.dataset['sold'] = String(c.sold);
    }
  };

  async function hold(items: unknown[]): Promise<void> {
    status.replaceChildren('Holding…');
    const admission = room?.permit()?.admissionToken;
    try {
      // One key for every try: a retry gets the same purchase, carried on from where it stopped.
      const headers = { 'idempotency-key': crypto.randomUUID(), ...(admission ? { 'admission-token': admission } : {}) };
      const purchase = await retrying(() => api<Purchase>('/purchases', { body: { eventId: event.id, items }, headers }));
      location.hash = `#/purchases/${purchase.id}`;
    } catch (err) {
      if (!isAdmissionRefusal(err)) return void status.replaceChildren(failure(err));
      // Refused for want of admission: say so, and ask the waiting room where we stand now. A page
      // opened before the organizer turned the room on has no panel yet: a reload brings it.
      status.replaceChildren(room ? admissionRefusal(err) : h('p', { class: 'error', role: 'alert' }, 'This sale now has a waiting room: reload the page to join the line.'));
      room?.recheck();
    }
  }

  const types = h(
    'div',
    { class: 'types' },
    ...event.ticketTypes.map((t) => {
      const avail = h('span', { class: 'avail', 'data-testid': `avail-${t.id}` }, String(t.available));
      availability.set(t.id, avail);
      const row = h('div', { class: 'type card' }, h('strong', {}, t.name), h('span', {}, money(t.priceMinor, t.currency)), h('span', {}, avail, ' left'));
      if (t.kind === 'general') {
        const qty = h('input', { type: 'number', min: '1', max: String(t.perOrderMax), value: '1', 'aria-label': `How many ${t.name}`, class: 'qty' });
        quantities.set(t.id, qty);
        const button = h('button', { disabled: !mayHold() || !t.onSaleNow, onclick: () => void hold([{ ticketTypeId: t.id, quantity: Number(qty.value) }]) }, 'Hold');
        holdButtons.push({ button, onSaleNow: t.onSaleNow });
        row.append(qty, button);
      }
      return row;
    }),
  );

  if (event.waitingRoomInForce) {
    room = waitingRoomPanel(event.id, refreshHolds);
    cleanup.push(() => room?.stop());
    refreshHolds();
  }

  const seatSection = seatDoc
    ? (() => {
        map = new SeatMap(seatDoc, refreshSelection);
        const typed = h('input', { name: 'seats', placeholder: 'or type seats: R1-1, R1-2', 'aria-label': 'Seats by row and number' });
        typed.addEventListener('change', () => {
          for (const id of map!.idsFor(typed.value)) if (!map!.selected.has(id)) map!.toggle(id);
        });
        holdSeats.addEventListener('click', () => {
          const byType = new Map<string, string[]>();
          for (const id of map!.selected) {
            const type = seatDoc.ticketTypes[map!.typeOf(id)];
            if (type) byType.set(type.id, [...(byType.get(type.id) ?? []), id]);
          }
          void hold([...byType].map(([ticketTypeId, seatIds]) => ({ ticketTypeId, seatIds })));
        });
        refreshSelection();
        return h(
          'section',
          { class: 'card' },
          h('h3', {}, 'Choose seats'),
          h('div', { class: 'legend' }, ...Object.keys(LEGEND).map((name) => h('span', {}, h('i', { class: `sw-${name}` }), name))),
          seatCounts,
          h('div', { class: 'seatmap-frame' }, map.canvas),
          h('p', {}, typed, ' ', holdSeats),
        );
      })()
    : null;

  show(
    h('h1', {}, event.title),
    h('p', {}, `${new Date(event.startsAt).toLocaleString()} · ${event.venueName ?? ''}`),
    event.description ? h('p', {}, event.description) : null,
    token.get() ? null : signInForm(() => {}),
    room?.element,
    types,
    seatSection,
    status,
  );

  cleanup.push(
    watchEvent(event.id, (view) => {
      for (const [typeId, el] of availability) {
        const n = view.counts[typeId];
        if (n !== undefined) el.textContent = String(n);
      }
      map?.update(view.seats);
      refreshSelection();
    }),
  );
}

async function purchasePage(id: string): Promise<void> {
  let purchase = await api<Purchase>(`/purchases/${id}`);
  const state = h('span', { class: 'state', 'data-testid': 'purchase-state' });
  const timeLeft = h('div', { class: 'countdown', 'data-testid': 'countdown' });
  const actions = h('div', {});
  const tickets = h('div', { class: 'tickets' });

  const render = async () => {
    state.textContent = purchase.state;
    actions.replaceChildren();
    if (purchase.state === 'paying' && purchase.payment?.provider === 'sandbox' && purchase.payment.status === 'pending') {
      const pay = (outcome: 'succeed' | 'fail') => async () => {
        try {
          await api(`/sandbox/payments/${purchase.payment!.paymentId}/${outcome}`, { body: {} });
        } catch (err) {
          actions.append(failure(err));
        }
      };
      actions.append(
        h('button', { onclick: () => void pay('succeed')() }, `Pay ${money(purchase.amountMinor, purchase.currency)} (sandbox)`),
        ' ',
        h('button', { class: 'secondary', onclick: () => void pay('fail')() }, 'Decline'),
        ' ',
        h('button', { class: 'secondary', onclick: () => void api(`/purchases/${purchase.id}/cancel`, { body: {} }).then(reload) }, 'Cancel'),
      );
    } else if (purchase.state === 'paying' && purchase.payment?.clientSecret && purchase.payment.publishableKey) {
      const form = h('div', { class: 'card', 'data-testid': 'stripe-payment' });
      const note = h('p', {});
      const button = h('button', { disabled: true }, `Pay ${money(purchase.amountMinor, purchase.currency)}`);
      actions.append(form, button, note);
      try {
        const confirm = await mountStripePayment(form, purchase.payment.publishableKey, purchase.payment.clientSecret);
        button.disabled = false;
        button.addEventListener('click', () => {
          button.disabled = true;
          note.replaceChildren('Paying…');
          void confirm().then((error) => {
            note.replaceChildren(error ?? 'Payment sent; your tickets appear here once Stripe confirms it.');
            button.disabled = error === null;
          });
        });
      } catch (err) {
        note.replaceChildren(failure(err));
      }
    } else if (purchase.state === 'paying' && purchase.payment?.redirectUrl) {
      actions.append(h('a', { href: purchase.payment.redirectUrl }, 'Continue to payment'));
    }
    tickets.replaceChildren();
    for (const t of purchase.tickets ?? []) {
      const img = h('img', { alt: `Ticket ${t.code}`, width: '180', height: '180' });
      img.src = await QRCode.toDataURL(t.code, { margin: 1, width: 180 });
      tickets.append(h('figure', { class: 'ticket card', 'data-testid': 'ticket' }, img, h('figcaption', {}, t.status === 'valid' ? 'Valid' : 'Void')));
    }
  };
  const reload = async () => {
    purchase = await api<Purchase>(`/purchases/${id}`);
    await render();
    tick();
  };
  const tick = () => {
    const live = ['held', 'paying', 'reserving'].includes(purchase.state);
    const left = purchase.holdExpiresAt ? Math.max(0, Date.parse(purchase.holdExpiresAt) - Date.now()) : 0;
    timeLeft.textContent = live && purchase.holdExpiresAt ? countdown(left) : '';
    if (live && left === 0) void reload();
  };
  const timer = window.setInterval(tick, 1000);
  cleanup.push(() => window.clearInterval(timer));
  cleanup.push(
    onPurchaseUpdate((u) => {
      if (u.purchaseId === id) void reload();
    }),
  );
  show(h('h1', {}, 'Your order'), h('p', {}, 'State: ', state), timeLeft, actions, tickets);
  await render();
  tick();
}

async function route(): Promise<void> {
  for (const stop of cleanup) stop();
  cleanup = [];
  const [, page, arg] = location.hash.replace(/^#/, '').split('/');
  try {
    if (page === 'events' && arg) await eventPage(decodeURIComponent(arg));
    else if (page === 'purchases' && arg) await purchasePage(arg);
    else await listPage();
  } catch (err) {
    show(failure(err));
  }
}

window.addEventListener('hashchange', () => void route());
void whoami();
void route();
