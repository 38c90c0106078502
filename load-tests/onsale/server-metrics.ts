// What the nodes measured themselves, read from their Prometheus text at /metrics: the hold's
// latency as the server saw it (from the HTTP histogram, summed over nodes; percentiles by linear
// interpolation inside buckets), to tell server time from time queued in the network or client;
// and the money gauge `boxoffice_paid_without_ticket_or_refund`.

export async function readMetrics(url: string): Promise<string> {
  return fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(
    (res) => (res.ok ? res.text() : ''),
    () => '',
  );
}

/** The value of a gauge without labels (or with any labels), or null. */
export function gauge(text: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

/** Cumulative bucket counts (le -> count) of a histogram's series whose labels include all of `labels`. */
export function histogram(texts: readonly string[], name: string, labels: Readonly<Record<string, string>>): Map<number, number> {
  const buckets = new Map<number, number>();
  const line = new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const text of texts) {
    for (const match of text.matchAll(line)) {
      const found: Record<string, string> = {};
      for (const label of match[1]!.matchAll(/(\w+)="([^"]*)"/g)) found[label[1]!] = label[2]!;
      if (!Object.entries(labels).every(([k, v]) => found[k] === v)) continue;
      const le = found['le'] === '+Inf' ? Infinity : Number(found['le']);
      buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
    }
  }
  return buckets;
}

/** The p-th percentile of a cumulative histogram (in the histogram's unit); null when empty or past the last finite bucket. */
export function histogramPercentile(buckets: Map<number, number>, p: number): number | null {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Infinity) ?? 0;
  if (!total) return null;
  const rank = (p / 100) * total;
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const count = buckets.get(le)!;
    if (count >= rank) {
      if (le === Infinity) return null;
      return lower + ((rank - below) / Math.max(1, count - below)) * (le - lower);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/** Server-side latency (ms) of the successful holds between two readings of the nodes' metrics. */
export function serverHoldLatency(after: readonly string[], before: readonly string[]) {
  const labels = { method: 'POST', route: '/api/v1/purchases', status_code: '201' };
  const earlier = histogram(before, 'boxoffice_http_request_duration_seconds', labels);
  const buckets = new Map([...histogram(after, 'boxoffice_http_request_duration_seconds', labels)].map(([le, n]) => [le, n - (earlier.get(le) ?? 0)]));
  const ms = (p: number) => {
    const seconds = histogramPercentile(buckets, p);
    return seconds === null ? null : Math.round(seconds * 10_000) / 10;
  };
  const finite = [...buckets.keys()].filter(Number.isFinite).sort((a, b) => a - b);
  const lastBound = finite.at(-1) ?? 0;
  const total = buckets.get(Infinity) ?? 0;
  // A percentile past the last bucket is only known to be slower than it (null, with the bound).
  return { count: total, p50: ms(50), p95: ms(95), p99: ms(99), slowerThanLastBucket: total - (buckets.get(lastBound) ?? 0), lastBucketMs: lastBound * 1000 };
}
