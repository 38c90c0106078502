// A small SVG line chart, our own code (no chart library): panels stacked vertically, each with
// its series over the same time axis, grid lines with round tick values, and a legend.

export interface Series {
  label: string;
  color: string;
  /** One value per x (seconds); null leaves a gap. */
  values: (number | null)[];
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

const WIDTH = 900;
const PANEL_HEIGHT = 200;
const MARGIN = { left: 64, right: 150, top: 28, bottom: 30 };
export const PALETTE = ['#1f77b4', '#2ca02c', '#d62728', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => (Math.abs(n) >= 1000 ? `${Math.round(n / 100) / 10}k` : String(Math.round(n * 10) / 10));

/** A round step giving about `count` ticks up to `max`. */
export function niceStep(max: number, count = 4): number {
  if (max <= 0) return 1;
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  return step;
}

function panelSvg(panel: Panel, top: number, xCount: number): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const values = panel.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const step = niceStep(Math.max(0, ...values));
  const yMax = Math.max(step, Math.ceil(Math.max(0, ...values) / step) * step);
  const x = (i: number) => MARGIN.left + (xCount > 1 ? (i / (xCount - 1)) * plotW : plotW / 2);
  const y = (v: number) => top + MARGIN.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [`<text x="${MARGIN.left}" y="${top + 18}" font-weight="bold">${escape(panel.title)} (${escape(panel.unit)})</text>`];
  for (let v = 0; v <= yMax + step / 2; v += step) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${fmt(v)}</text>`);
  }
  const xStep = Math.max(1, niceStep(Math.max(1, xCount - 1), 8));
  for (let i = 0; i <= xCount - 1; i += xStep) {
    parts.push(`<line x1="${x(i)}" x2="${x(i)}" y1="${top + MARGIN.top + plotH}" y2="${top + MARGIN.top + plotH + 4}" stroke="#555"/>`);
    parts.push(`<text x="${x(i)}" y="${top + MARGIN.top + plotH + 16}" text-anchor="middle" fill="#555">${i} s</text>`);
  }
  parts.push(`<rect x="${MARGIN.left}" y="${top + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  panel.series.forEach((s, k) => {
    // Consecutive values form a line; a null breaks it.
    let path = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        pen = false;
        return;
      }
      path += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    if (path) parts.push(`<path d="${path.trim()}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`);
    const ly = top + MARGIN.top + 8 + k * 18;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 12}" x2="${WIDTH - MARGIN.right + 32}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 38}" y="${ly + 4}">${escape(s.label)}</text>`);
  });
  return parts.join('\n');
}

/** The whole chart: one panel under the other, sharing the x axis (seconds since the ramp started). */
export function chartSvg(title: string, panels: readonly Panel[]): string {
  const xCount = Math.max(1, ...panels.flatMap((p) => p.series.map((s) => s.values.length)));
  const height = 30 + panels.length * PANEL_HEIGHT;
  const body = panels.map((panel, i) => panelSvg(panel, 30 + i * PANEL_HEIGHT, xCount)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}
