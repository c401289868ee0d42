/**
 * When to join again a channel the server closed. realtime-js rejoins a channel by itself after a
 * `phx_error`, a refused or timed-out join and a lost socket (its channel stays, errored, and joins
 * again on its rejoin timer or when the socket is back), but never after a `phx_close`: the server
 * closes a channel it no longer allows (a `system` error first: its token expired, a read policy
 * lost at a token refresh) and realtime-js drops it, reporting CLOSED. A store then removes the
 * dead channel and joins a new one, after REJOIN_MS[n] for the nth close in a row: a channel closed
 * again soon after its join waits longer each time (up to the last step), one that stayed joined
 * STEADY_MS starts over. `stop` (the store leaves, the user signs out) cancels a pending rejoin.
 */
export const REJOIN_MS = [1000, 2000, 5000, 10000, 30000] as const
export const STEADY_MS = 60_000

export function rejoining() {
  let timer: ReturnType<typeof setTimeout> | null = null
  let closes = 0
  let joinedAt: number | null = null

  /** The channel is joined (its subscribe callback said SUBSCRIBED). */
  function joined(): void {
    joinedAt = Date.now()
  }

  /** The server closed the channel: `again` runs once after the backoff, unless stopped first. */
  function closed(again: () => void): void {
    if (joinedAt !== null && Date.now() - joinedAt >= STEADY_MS) closes = 0
    joinedAt = null
    const wait = REJOIN_MS[Math.min(closes, REJOIN_MS.length - 1)]
    closes += 1
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      again()
    }, wait)
  }

  /** Cancel a pending rejoin and forget the closes counted. */
  function stop(): void {
    if (timer) clearTimeout(timer)
    timer = null
    closes = 0
    joinedAt = null
  }

  return { joined, closed, stop }
}
