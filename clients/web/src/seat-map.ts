// A seat map on one canvas: tens of thousands of seats drawn in one pass, repainted seat by seat
// as states change, picked by pointer (a grid lookup, no per-seat DOM) or typed as "row-number".
export interface SeatMapDoc {
  eventId: string;
  ticketTypes: { id: string; name: string; priceMinor: number; currency: string }[];
  sections: { name: string; rows: { label: string; seats: [string, string, number, number][] }[] }[];
}

interface Seat {
  id: string;
  label: string;
  typeIndex: number;
  blocked: boolean;
  col: number;
  row: number;
}

const COLORS = { free: '#2e9d5b', held: '#e0a100', sold: '#9a9aa3', blocked: '#4b4b55', selected: '#3451d1' };

export class SeatMap {
  readonly canvas = document.createElement('canvas');
  readonly selected = new Set<string>();
  #seats: Seat[] = [];
  #byId = new Map<string, Seat>();
  #byCell = new Map<string, Seat>();
  #states = new Map<string, number>();
  #cell = 12;
  #onSelect: () => void;

  constructor(doc: SeatMapDoc, onSelect: () => void) {
    this.#onSelect = onSelect;
    let row = 0;
    let widest = 1;
    for (const section of doc.sections) {
      for (const r of section.rows) {
        r.seats.forEach(([id, number, typeIndex, state], col) => {
          const seat: Seat = { id, label: `${r.label}-${number}`, typeIndex, blocked: state === 3, col, row };
          this.#seats.push(seat);
          this.#byId.set(id, seat);
          this.#byCell.set(`${row}:${col}`, seat);
          if (state === 1 || state === 2) this.#states.set(id, state);
        });
        widest = Math.max(widest, r.seats.length);
        row++;
      }
      row++; // a gap between sections
    }
    const width = Math.min(900, document.documentElement.clientWidth - 32);
    this.#cell = Math.max(2, Math.min(24, Math.floor(width / widest), Math.floor(16_000 / Math.max(1, row))));
    this.canvas.width = widest * this.#cell;
    this.canvas.height = row * this.#cell;
    this.canvas.className = 'seatmap';
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', `Seat map with ${this.#seats.length} seats`);
    this.canvas.addEventListener('click', (e) => {
      const rect = this.canvas.getBoundingClientRect();
      const scale = this.canvas.width / rect.width;
      const col = Math.floor(((e.clientX - rect.left) * scale) / this.#cell);
      const r = Math.floor(((e.clientY - rect.top) * scale) / this.#cell);
      const seat = this.#byCell.get(`${r}:${col}`);
      if (seat) this.toggle(seat.id);
    });
    this.draw();
  }

  /** Seat ids for labels like "R1-3, R1-4" (unknown labels are skipped). */
  idsFor(labels: string): string[] {
    const wanted = new Set(labels.split(/[\s,]+/).filter(Boolean).map((l) => l.toUpperCase()));
    return this.#seats.filter((s) => wanted.has(s.label.toUpperCase())).map((s) => s.id);
  }

  toggle(id: string): void {
    const seat = this.#byId.get(id);
    if (!seat || seat.blocked || this.#states.has(id)) return;
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
    this.#paint(seat);
    this.#onSelect();
  }

  /** New states for every seat (0 free, 1 held, 2 sold); repaints only what changed. */
  update(states: ReadonlyMap<string, number>): void {
    const changed = new Set<string>();
    for (const id of this.#states.keys()) if (!states.has(id)) changed.add(id);
    for (const [id, state] of states) if (this.#states.get(id) !== state) changed.add(id);
    this.#states = new Map(states);
    for (const id of changed) {
      if (this.#states.has(id)) this.selected.delete(id);
      const seat = this.#byId.get(id);
      if (seat) this.#paint(seat);
    }
    if (changed.size) this.#onSelect();
  }

  counts(): { free: number; held: number; sold: number } {
    let held = 0;
    let sold = 0;
    for (const state of this.#states.values()) {
      if (state === 1) held++;
      else if (state === 2) sold++;
    }
    return { free: this.#seats.filter((s) => !s.blocked).length - held - sold, held, sold };
  }

  typeOf(id: string): number {
    return this.#byId.get(id)?.typeIndex ?? -1;
  }

  draw(): void {
    const ctx = this.canvas.getContext('2d')!;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    for (const seat of this.#seats) this.#paint(seat, ctx);
  }

  #paint(seat: Seat, ctx = this.canvas.getContext('2d')!): void {
    const state = this.#states.get(seat.id);
    ctx.fillStyle = seat.blocked
      ? COLORS.blocked
      : this.selected.has(seat.id)
        ? COLORS.selected
        : state === 2
          ? COLORS.sold
          : state === 1
            ? COLORS.held
            : COLORS.free;
    const size = Math.max(1, this.#cell - (this.#cell > 4 ? 2 : 0));
    ctx.clearRect(seat.col * this.#cell, seat.row * this.#cell, this.#cell, this.#cell);
    ctx.fillRect(seat.col * this.#cell, seat.row * this.#cell, size, size);
  }
}

export const LEGEND = COLORS;
