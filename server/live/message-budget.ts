// How many messages one socket may send: a token bucket of `burst` messages refilled at `perSecond`.
// Each socket gets its own; a false answer means the message is refused (and a flood disconnects).

/** A fresh budget: call it once per message; true while the socket is within its rate. */
export function messageBudget(burst: number, perSecond: number): () => boolean {
  let tokens = burst;
  let at = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - at) / 1000) * perSecond);
    at = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}
