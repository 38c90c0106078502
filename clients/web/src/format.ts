// Times as the buyer reads them: a countdown (m:ss) and a rough wait ("about 3 minutes").

/** m:ss of a span in ms (never negative). */
export function countdown(ms: number): string {
  const left = Math.max(0, ms);
  return `${Math.floor(left / 60000)}:${String(Math.floor((left % 60000) / 1000)).padStart(2, '0')}`;
}

/** A wait in words, rounded the way a person would say it. */
export function roughWait(seconds: number): string {
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 6) / 10;
  return `about ${hours} hour${hours === 1 ? '' : 's'}`;
}
