/**
 * Whether a conversation still follows its end after a scroll event.
 *
 * A scroll event is dispatched a frame after the scroll that caused it. When the page scrolled to
 * the end and the text then grew (an answer's next lines rendered, a re-read's rows laid out)
 * before the event came, the pane is no longer near its end at the event, though the reader never
 * moved: judging by the distance alone let go of the end there, and a phone under load was left
 * showing the middle of the answer. So only a scroll upwards lets go; reaching the end again (within
 * `NEAR` pixels) takes it back.
 */
export const NEAR = 80

export interface ScrollPosition {
  scrollTop: number
  scrollHeight: number
  clientHeight: number
}

export function stillFollowing(following: boolean, lastTop: number, at: ScrollPosition): boolean {
  if (at.scrollHeight - at.scrollTop - at.clientHeight < NEAR) return true
  return following && at.scrollTop >= lastTop
}
