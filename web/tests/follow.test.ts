import { describe, expect, it } from 'vitest'
import { stillFollowing } from '@/lib/follow'

describe('stillFollowing', () => {
  it('keeps following when the text grew after the page scrolled to the end, before the scroll event came', () => {
    // the e2e journey's phone: scrolled to 2440 of 2918 (the end), then 691 px more rendered
    expect(stillFollowing(true, 2400, { scrollTop: 2440, scrollHeight: 3609, clientHeight: 478 })).toBe(true)
  })

  it('lets go when the reader scrolls up, away from the end', () => {
    expect(stillFollowing(true, 2440, { scrollTop: 2000, scrollHeight: 3609, clientHeight: 478 })).toBe(false)
  })

  it('stays let go when the reader scrolls down but not to the end', () => {
    expect(stillFollowing(false, 2000, { scrollTop: 2500, scrollHeight: 3609, clientHeight: 478 })).toBe(false)
  })

  it('follows again once the reader is back near the end', () => {
    expect(stillFollowing(false, 2500, { scrollTop: 3100, scrollHeight: 3609, clientHeight: 478 })).toBe(true)
  })

  it('keeps following a small scroll up that stays near the end', () => {
    expect(stillFollowing(true, 3131, { scrollTop: 3100, scrollHeight: 3609, clientHeight: 478 })).toBe(true)
  })
})
